//! The `yoco-webhooks` command line (`src/bin/yoco-webhooks.rs`), runnable
//! from a checkout without installing it:
//!
//! ```text
//! export YOCO_SECRET_KEY=sk_test_...
//! cargo run --example manage_webhooks --features client -- register --name shop --url https://shop.example.com/webhooks/yoco
//! cargo run --example manage_webhooks --features client -- list
//! ```
//!
//! `cargo install yoco-webhooks --features cli` installs it as a command.

#[path = "../src/bin/yoco-webhooks.rs"]
mod yoco_webhooks_cli;

fn main() -> std::process::ExitCode {
    yoco_webhooks_cli::main()
}
