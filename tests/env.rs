//! Resolution from the process environment (docs/SPEC.md §1). One test per binary state: the
//! environment is process-wide, so every case runs in sequence inside a single test, in a
//! binary of its own (in tests/suite, `MODEL_TIMEOUT=ten` would fail other tests' builds).

mod support;

use std::time::Duration;

use openai_compatible::{ChatMessage, Error, OpenAICompatibleModel};
use support::{chat_completion, Reply, ScriptedServer};

const VARS: [&str; 7] = [
    "OPENAI_COMPATIBILITY_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_COMPATIBILITY_API_BASE_URL",
    "OPENAI_BASE_URL",
    "MODEL_TIMEOUT",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
];

fn clear() {
    for v in VARS {
        std::env::remove_var(v);
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn environment_resolution() {
    clear();

    // No key anywhere: build() names every source.
    match OpenAICompatibleModel::builder("m").build() {
        Err(Error::Config(msg)) => {
            assert!(
                msg.contains("OPENAI_COMPATIBILITY_API_KEY") && msg.contains("OPENAI_API_KEY"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Defaults: OpenAI's URL, 180 s, 3 retries.
    std::env::set_var("OPENAI_API_KEY", "sk-plain");
    let m = OpenAICompatibleModel::builder("m").build().unwrap();
    assert_eq!(m.url(), "https://api.openai.com/v1");
    assert_eq!(m.timeout(), Duration::from_secs(180));
    assert_eq!(m.max_retries(), 3);

    // MODEL_TIMEOUT: seconds as a float; malformed fails build() quoting the value.
    std::env::set_var("MODEL_TIMEOUT", "2.5");
    assert_eq!(
        OpenAICompatibleModel::builder("m")
            .build()
            .unwrap()
            .timeout(),
        Duration::from_millis(2500)
    );
    std::env::set_var("MODEL_TIMEOUT", "ten");
    match OpenAICompatibleModel::builder("m").build() {
        Err(Error::Config(msg)) => assert!(
            msg.contains("MODEL_TIMEOUT") && msg.contains("\"ten\""),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
    // An explicit timeout wins over a malformed variable? No: CAMEL only reads the variable
    // when no timeout is given, and so do we.
    let explicit = OpenAICompatibleModel::builder("m")
        .timeout(Duration::from_secs(9))
        .build()
        .unwrap();
    assert_eq!(explicit.timeout(), Duration::from_secs(9));
    std::env::set_var("MODEL_TIMEOUT", "0");
    assert_eq!(
        OpenAICompatibleModel::builder("m")
            .build()
            .unwrap()
            .timeout(),
        Duration::from_secs(180)
    );

    // The compatibility variables win over the plain ones, and requests really use them.
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("env"))]);
    std::env::set_var("OPENAI_COMPATIBILITY_API_KEY", "sk-compat");
    std::env::set_var("OPENAI_BASE_URL", "http://127.0.0.1:9/v1");
    std::env::set_var("OPENAI_COMPATIBILITY_API_BASE_URL", server.url());
    std::env::set_var("OPENAI_ORG_ID", "org-env");
    std::env::set_var("OPENAI_PROJECT_ID", "proj-env");
    let m = OpenAICompatibleModel::builder("m").build().unwrap();
    let c = m.complete(&[ChatMessage::user("hi")]).await.unwrap();
    assert_eq!(c.content(), Some("env"));
    let req = &server.requests()[0];
    assert_eq!(req.header("authorization"), Some("Bearer sk-compat"));
    assert_eq!(req.header("openai-organization"), Some("org-env"));
    assert_eq!(req.header("openai-project"), Some("proj-env"));

    // Empty strings count as unset.
    std::env::set_var("OPENAI_COMPATIBILITY_API_BASE_URL", "");
    let m = OpenAICompatibleModel::builder("m").url("").build().unwrap();
    assert_eq!(m.url(), "http://127.0.0.1:9/v1");

    clear();
}
