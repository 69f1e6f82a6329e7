//! The scripted server's handler mode itself, through the real client, in both builds:
//! queued replies go first, the handler sees each request, a panicking handler is a 500.

use serde_json::json;

use crate::support::{self, chat_completion, hi, Reply, ScriptedServer};

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn queued_replies_go_first_then_the_handler_answers_each_request() {
    let server = ScriptedServer::builder()
        .replies(vec![Reply::json(200, chat_completion("queued"))])
        .handler(|req| {
            let n = req.json()["messages"].as_array().map_or(0, Vec::len);
            Reply::json(
                200,
                chat_completion(&format!("{n} messages on {}", req.path)),
            )
        })
        .start();
    let m = support::model(&server).build().unwrap();
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("queued"));
    let mut two = hi();
    two.extend(hi());
    let c = m.complete(&two).await.unwrap();
    assert_eq!(c.content(), Some("2 messages on /v1/chat/completions"));
    server.push(Reply::json(200, chat_completion("pushed")));
    let c = m.complete(&hi()).await.unwrap();
    assert_eq!(c.content(), Some("pushed"));
    assert_eq!(server.hits(), 3);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_panicking_handler_is_a_500_and_the_server_lives_on() {
    let server = ScriptedServer::handler(|req| {
        assert!(req.text().contains("fine"), "a handler's own check failed");
        Reply::json(200, chat_completion("fine"))
    });
    let m = support::model(&server).build().unwrap();
    let err = m.complete(&hi()).await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert!(err.to_string().contains("handler panicked"), "{err}");
    let c = m
        .complete(&[openai_compatible::ChatMessage::user("fine")])
        .await
        .unwrap();
    assert_eq!(c.content(), Some("fine"));
    assert_eq!(
        server.requests()[0].json()["messages"],
        json!([{"role": "user", "content": "hi"}])
    );
}
