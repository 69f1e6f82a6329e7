//! Structured output: ask for a Rust type, get a Rust value. Then the same request streamed,
//! printing the JSON parsed so far as it grows.
//!
//! ```text
//! cargo run --example structured [-- COUNTRY]
//! ```
//!
//! It prints one line of facts, a `so far: …` line each time the streamed JSON grows, and
//! `streamed: …` with the final value. Key and URL come from the environment
//! (`OPENAI_COMPATIBILITY_API_KEY`, `OPENAI_COMPATIBILITY_API_BASE_URL`; `scripts/server/server.sh
//! env` prints them for the local llama.cpp server, which enforces the schema with a
//! grammar), the model name from `MODEL` (default `smollm2`). A server that does not know
//! `json_schema` answers through the json_object fallback, and the example says so.
//!
//! This is a blocking program, the crate's default mode. A build with `--features async`
//! makes the crate's whole API async, so there this example only points to `async_server`.
//! It needs the `schema` feature (on by default) for `#[derive(JsonSchema)]`.

#[cfg(not(feature = "async"))]
fn main() -> std::process::ExitCode {
    let country = std::env::args().nth(1).unwrap_or_else(|| "France".into());
    match facts::ask(&country) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("structured: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "async")]
fn main() {
    println!("this example is blocking; see async_server for the async API");
}

#[cfg(not(feature = "async"))]
mod facts {
    use openai_compatible::{ChatMessage, OpenAICompatibleModel, ParsePath, StructuredEvent};
    use serde::Deserialize;
    use serde_json::json;

    /// What we want back: a type, not text. Its doc comments become the schema's
    /// descriptions, which the model reads.
    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    pub struct CountryFacts {
        /// The country's name.
        pub country: String,
        /// Its capital city.
        pub capital: String,
        /// The continent it is on.
        pub continent: Continent,
        /// Whether the country has a coastline.
        pub has_coast: bool,
    }

    /// An enum becomes a list of allowed strings.
    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Continent {
        Africa,
        Antarctica,
        Asia,
        Europe,
        NorthAmerica,
        Oceania,
        SouthAmerica,
    }

    /// Asks for the facts about `country`, once whole and once streamed.
    pub fn ask(country: &str) -> Result<(), Box<dyn std::error::Error>> {
        let model = OpenAICompatibleModel::builder(
            std::env::var("MODEL").unwrap_or_else(|_| "smollm2".into()),
        )
        .model_config(json!({"temperature": 0, "max_tokens": 120}))
        .build()?;
        let messages = [
            ChatMessage::system("You answer geography questions as JSON."),
            ChatMessage::user(format!("Give the facts about {country}.")),
        ];

        // One call, one typed value.
        let answer = model.parse::<CountryFacts>(&messages, None)?;
        if answer.path == ParsePath::JsonObjectFallback {
            println!("(the server refused json_schema; answered through json_object)");
        }
        let facts = answer.into_parsed()?;
        let coast = if facts.has_coast {
            "coastal"
        } else {
            "landlocked"
        };
        println!(
            "{}: capital {}, {:?}, {coast}",
            facts.country, facts.capital, facts.continent
        );

        // The same, streamed: each content delta carries the JSON parsed so far. Nothing is
        // sent until the first event is read.
        let mut stream = model.stream_parse::<CountryFacts>(&messages, None)?;
        let mut last = None;
        for event in stream.by_ref() {
            // Many deltas are whitespace or half a key: print the value only when it changes.
            if let StructuredEvent::ContentDelta {
                parsed: Some(partial),
                ..
            } = event?
            {
                if last.as_ref() != Some(&partial) {
                    println!("so far: {partial}");
                    last = Some(partial);
                }
            }
        }
        let streamed = stream.final_completion()?.into_parsed()?;
        println!("streamed: {streamed:?}");
        Ok(())
    }
}
