//! Rebuilds the server when a translation changes: the locale files are
//! compiled into the binary by `rust_i18n::i18n!`, which does not tell
//! cargo about them itself.

fn main() {
    println!("cargo:rerun-if-changed=locales");
    println!("cargo:rerun-if-changed=templates");
}
