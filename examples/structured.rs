//! Structured output: ask for a Rust type, get a Rust value. Then the same request streamed,
//! printing the JSON parsed so far as it grows.
//!
//! ```text
//! cargo run --example structured [-- COUNTRY]                    # blocking
//! cargo run --features async --example structured [-- COUNTRY]
//! ```
//!
//! Key and URL come from the environment (`OPENAI_COMPATIBILITY_API_KEY`,
//! `OPENAI_COMPATIBILITY_API_BASE_URL`); `scripts/server.sh env` prints them for the local
//! llama.cpp server, which enforces the schema with a grammar. The model name comes from
//! `MODEL` (default `smollm2`). A server that does not know `json_schema` answers through
//! the json_object fallback, and the example says so.

#[cfg(feature = "schema")]
mod demo {
    use openai_compatible::{ChatMessage, OpenAICompatibleModel, ParsePath, StructuredEvent};
    use serde::Deserialize;
    use serde_json::json;

    /// What we want back: a type, not text.
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

    #[cfg_attr(feature = "async", maybe_async::must_be_async)]
    #[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
    pub async fn run(country: &str) -> Result<(), Box<dyn std::error::Error>> {
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
        let answer = model.parse::<CountryFacts>(&messages, None).await?;
        if answer.path == ParsePath::JsonObjectFallback {
            println!("(the server refused json_schema; answered through json_object)");
        }
        let facts = answer.into_parsed()?;
        println!(
            "{}: capital {}, {:?}, {}",
            facts.country,
            facts.capital,
            facts.continent,
            if facts.has_coast {
                "coastal"
            } else {
                "landlocked"
            }
        );

        // The same, streamed: each content delta carries the JSON parsed so far.
        let mut stream = model.stream_parse::<CountryFacts>(&messages, None)?;
        let mut last = None;
        while let Some(event) = next(&mut stream).await {
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
        let streamed = stream.final_completion().await?.into_parsed()?;
        println!("streamed: {streamed:?}");
        Ok(())
    }

    #[cfg(not(feature = "async"))]
    fn next<I: Iterator>(it: &mut I) -> Option<I::Item> {
        it.next()
    }

    #[cfg(feature = "async")]
    async fn next<S: futures_util::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
        futures_util::StreamExt::next(s).await
    }
}

#[cfg(all(feature = "schema", not(feature = "async")))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let country = std::env::args().nth(1).unwrap_or_else(|| "France".into());
    demo::run(&country)
}

#[cfg(all(feature = "schema", feature = "async"))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let country = std::env::args().nth(1).unwrap_or_else(|| "France".into());
    demo::run(&country).await
}

#[cfg(not(feature = "schema"))]
fn main() {
    eprintln!("this example needs the `schema` feature (on by default)");
}
