//! Counts the prompt tokens of a conversation, the way CAMEL-AI's counter does.
//!
//! Reads a JSON array of OpenAI-format messages on stdin and prints the count as one
//! integer line on stdout:
//!
//! ```text
//! echo '[{"role": "user", "content": "Hello"}]' | cargo run --example count_tokens
//! 8
//! echo '[{"role": "user", "content": "Hello"}]' | cargo run --example count_tokens -- --model gpt-4
//! ```
//!
//! `--model NAME` picks the counter's model (default gpt-4o-mini, o200k_base). Bad input
//! prints one line on stderr and exits with status 1 (2 for bad arguments).
//!
//! Counting is local work (no server, no key) and has the same API in both builds, so this
//! program runs unchanged with `--features async`.

use std::io::Read;
use std::process::ExitCode;

use openai_compatible::OpenAITokenCounter;

const USAGE: &str = "usage: count_tokens [--model NAME] < messages.json";

fn main() -> ExitCode {
    let mut model = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => match args.next() {
                Some(name) => model = Some(name),
                None => return usage_error("--model needs a value"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => match other.strip_prefix("--model=") {
                Some(name) => model = Some(name.to_owned()),
                None => return usage_error(&format!("unexpected argument {other:?}")),
            },
        }
    }

    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let counter = match model {
        Some(name) => OpenAITokenCounter::new(&name),
        None => OpenAITokenCounter::default(),
    };
    // The text is counted as written, so nested objects keep their key order.
    match counter.count_json_text(&input) {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("error: {why}; {USAGE}");
    ExitCode::from(2)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
