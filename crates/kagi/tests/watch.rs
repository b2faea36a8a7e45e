//! The watch screen drawn with ratatui's TestBackend: codes, countdowns
//! that turn red in the last five seconds, search, and keys.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kagi::account::Account;
use kagi::watch::{Action, WatchState, render};
use nidan_otp::{KeyUri, Secret};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn accounts() -> Vec<Account> {
    ["Amazon", "GitHub", "Google"]
        .iter()
        .map(|name| {
            let uri = KeyUri::new_totp(
                Secret::from_bytes(b"12345678901234567890").unwrap(),
                Some((*name).into()),
                "me".into(),
            );
            Account::from_key_uri((*name).into(), uri, 0)
        })
        .collect()
}

fn draw(state: &WatchState, now: u64) -> (String, ratatui::buffer::Buffer) {
    let mut terminal = Terminal::new(TestBackend::new(60, 12)).unwrap();
    terminal.draw(|f| render(f, state, now)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let text = (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, buffer)
}

fn bar_colors(buffer: &ratatui::buffer::Buffer) -> Vec<Color> {
    let mut colors = Vec::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            if cell.symbol() == "█" {
                colors.push(cell.fg);
            }
        }
    }
    colors
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn codes_and_seconds_are_shown_and_green_with_time_to_spare() {
    let state = WatchState::new(accounts());
    // RFC 6238's SHA-1 key at T=59 gives ...287082; at 31 s into a step, 29 s are left.
    let (text, buffer) = draw(&state, 61);
    assert!(text.contains("Amazon"), "{text}");
    let code = kagi::account::Account::from_key_uri(
        "x".into(),
        KeyUri::new_totp(
            Secret::from_bytes(b"12345678901234567890").unwrap(),
            None,
            String::new(),
        ),
        0,
    )
    .code_at(61)
    .unwrap()
    .code;
    assert!(
        text.contains(&format!("{} {}", &code[..3], &code[3..])),
        "{text}"
    );
    assert!(text.contains("29 s"), "{text}");
    let colors = bar_colors(&buffer);
    assert!(!colors.is_empty());
    assert!(colors.iter().all(|c| *c == Color::Green), "{colors:?}");
}

#[test]
fn the_countdown_turns_red_in_the_last_five_seconds() {
    let state = WatchState::new(accounts());
    let (text, buffer) = draw(&state, 55); // 5 s left
    assert!(text.contains(" 5 s"), "{text}");
    let colors = bar_colors(&buffer);
    assert!(!colors.is_empty());
    assert!(colors.iter().all(|c| *c == Color::Red), "{colors:?}");
    let (_, buffer) = draw(&state, 54); // 6 s left
    assert!(bar_colors(&buffer).iter().all(|c| *c == Color::Green));
}

#[test]
fn slash_filters_and_enter_copies_the_selected_account() {
    let mut state = WatchState::new(accounts());
    assert_eq!(state.handle_key(key(KeyCode::Char('/'))), Action::None);
    for c in "goo".chars() {
        state.handle_key(key(KeyCode::Char(c)));
    }
    let (text, _) = draw(&state, 100);
    assert!(text.contains("search: goo"), "{text}");
    assert!(
        text.contains("Google") && !text.contains("Amazon"),
        "{text}"
    );
    state.handle_key(key(KeyCode::Enter)); // leave search, keep the filter
    assert_eq!(state.handle_key(key(KeyCode::Enter)), Action::Copy(2));
    // Esc clears the filter; then Down and Enter pick the second account.
    state.handle_key(key(KeyCode::Esc));
    state.handle_key(key(KeyCode::Down));
    assert_eq!(state.handle_key(key(KeyCode::Enter)), Action::Copy(1));
    assert_eq!(state.handle_key(key(KeyCode::Char('q'))), Action::Quit);
}

#[test]
fn typing_q_while_searching_searches_for_q() {
    let mut state = WatchState::new(accounts());
    state.handle_key(key(KeyCode::Char('/')));
    assert_eq!(state.handle_key(key(KeyCode::Char('q'))), Action::None);
    assert_eq!(
        state.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Action::Quit
    );
}
