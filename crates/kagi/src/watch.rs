//! `kagi watch`: every code live, with a countdown bar per account that
//! turns red in its last five seconds (seed 003: a code typed as it expires
//! is refused). Up/Down select, Enter copies, `/` filters, q quits.
//!
//! Drawing ([`render`]) and key handling ([`WatchState::handle_key`]) are
//! pure functions of the state and the time, so they are tested with
//! ratatui's `TestBackend`; [`run`] only wires them to the terminal.

use std::io;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use crate::account::Account;
use crate::{clipboard, unix_now};

/// Seconds left at which a countdown turns red.
pub const RED_FROM: u64 = 5;
/// Width of a countdown bar in cells.
const BAR_WIDTH: u64 = 10;

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond redrawing.
    None,
    /// Copy the code of the account at this index.
    Copy(usize),
    /// Leave.
    Quit,
}

/// The state of the watch screen.
pub struct WatchState {
    accounts: Vec<Account>,
    selected: usize,
    filter: String,
    searching: bool,
    /// A one-line message under the table (copied, no clipboard...).
    pub message: Option<String>,
}

impl WatchState {
    /// A screen over these accounts.
    pub fn new(accounts: Vec<Account>) -> Self {
        Self {
            accounts,
            selected: 0,
            filter: String::new(),
            searching: false,
            message: None,
        }
    }

    /// The accounts shown, by index, after the filter.
    pub fn visible(&self) -> Vec<usize> {
        let needle = self.filter.to_lowercase();
        self.accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                needle.is_empty()
                    || a.name.to_lowercase().contains(&needle)
                    || a.issuer
                        .as_deref()
                        .unwrap_or_default()
                        .to_lowercase()
                        .contains(&needle)
                    || a.label.to_lowercase().contains(&needle)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The account with this index.
    pub fn account(&self, index: usize) -> Option<&Account> {
        self.accounts.get(index)
    }

    /// Applies a key press.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        let visible = self.visible();
        if self.searching {
            match key.code {
                KeyCode::Esc => {
                    self.searching = false;
                    self.filter.clear();
                }
                KeyCode::Enter => self.searching = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => {
                    self.filter.push(c);
                    self.selected = 0;
                }
                _ => {}
            }
            return Action::None;
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Esc if self.filter.is_empty() => return Action::Quit,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('/') => {
                self.searching = true;
                self.filter.clear();
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(visible.len().saturating_sub(1));
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(&index) = visible.get(self.selected) {
                    return Action::Copy(index);
                }
            }
            _ => {}
        }
        Action::None
    }
}

/// A bar of `BAR_WIDTH` cells, full at the start of a period.
fn countdown(left: u64, period: u64) -> Span<'static> {
    let period = period.max(1);
    let filled = (left * BAR_WIDTH).div_ceil(period).min(BAR_WIDTH) as usize;
    let bar = format!(
        "{}{} {left:>2} s",
        "█".repeat(filled),
        "░".repeat(BAR_WIDTH as usize - filled)
    );
    let color = if left <= RED_FROM {
        Color::Red
    } else {
        Color::Green
    };
    Span::styled(bar, Style::default().fg(color))
}

/// Draws the whole screen for the instant `now`.
pub fn render(frame: &mut Frame<'_>, state: &WatchState, now: u64) {
    let [top, table_area, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(frame.area());

    let title = if state.searching || !state.filter.is_empty() {
        format!(
            "kagi — search: {}{}",
            state.filter,
            if state.searching { "▏" } else { "" }
        )
    } else {
        format!("kagi — {} account(s)", state.accounts.len())
    };
    frame.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
        top,
    );

    let visible = state.visible();
    let rows: Vec<Row<'_>> = visible
        .iter()
        .filter_map(|&i| state.accounts.get(i))
        .map(|a| {
            let (code, bar) = match a.code_at(now) {
                Some(shown) => {
                    let spaced = if shown.code.len() == 6 {
                        format!("{} {}", &shown.code[..3], &shown.code[3..])
                    } else {
                        shown.code.clone()
                    };
                    (
                        spaced,
                        countdown(shown.seconds_left.unwrap_or(0), shown.period.unwrap_or(30)),
                    )
                }
                None => ("—".to_owned(), Span::raw("counter: kagi code")),
            };
            Row::new(vec![
                Cell::from(a.name.clone()),
                Cell::from(Span::styled(
                    code,
                    Style::default().add_modifier(Modifier::BOLD),
                )),
                Cell::from(Line::from(bar)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(16),
        ],
    )
    .header(Row::new(["NAME", "CODE", "LEFT"]).style(Style::default().add_modifier(Modifier::DIM)))
    .block(Block::default().borders(Borders::TOP | Borders::BOTTOM))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut table_state = TableState::default().with_selected(if visible.is_empty() {
        None
    } else {
        Some(state.selected)
    });
    frame.render_stateful_widget(table, table_area, &mut table_state);

    let help = "↑↓ select   Enter copy   / search   q quit";
    let message = state.message.clone().unwrap_or_default();
    frame.render_widget(
        Paragraph::new(vec![Line::from(message), Line::from(help)]),
        bottom,
    );
}

/// Runs the screen until the user quits. Restores the terminal on every
/// way out, errors included.
pub fn run(accounts: Vec<Account>) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, WatchState::new(accounts));
    ratatui::restore();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, mut state: WatchState) -> io::Result<()> {
    loop {
        let now = unix_now();
        terminal.draw(|frame| render(frame, &state, now))?;
        if !event::poll(Duration::from_millis(250))? {
            continue;
        }
        let Event::Key(key) = event::read()? else {
            continue;
        };
        match state.handle_key(key) {
            Action::Quit => return Ok(()),
            Action::None => {}
            Action::Copy(index) => {
                let Some(account) = state.account(index) else {
                    continue;
                };
                let name = account.name.clone();
                state.message = Some(match account.code_at(unix_now()) {
                    None => format!("{name} is counter-based: use `kagi code {name}`"),
                    Some(shown) => match clipboard::copy(&shown.code) {
                        Ok(()) => format!(
                            "Copied {name}'s code; the clipboard is cleared in {} s",
                            clipboard::CLEAR_AFTER.as_secs()
                        ),
                        Err(e) => format!("{e} — the code of {name} is {}", shown.code),
                    },
                });
            }
        }
    }
}
