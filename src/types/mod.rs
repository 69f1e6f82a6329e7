//! Wire types: what is sent to and received from a chat-completions server.
//!
//! Lenient in, exact out: responses from any compatible server deserialize (missing fields,
//! `null`s, unknown enum values and extra fields are accepted and kept), and requests carry
//! only the fields the caller set.

mod api_mode;
mod chunk;
mod completion;
pub(crate) mod lenient;
mod message;
mod meta;
mod options;
mod response_format;
mod tool;

pub use api_mode::ApiMode;
pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
pub use completion::{
    ChatCompletion, Choice, CompletionTokensDetails, FinishReason, PromptTokensDetails, Usage,
};
pub use message::{
    ChatMessage, Content, ContentPart, FileData, FunctionCall, ImageUrl, InputAudio, Role, ToolCall,
};
pub(crate) use meta::MetaSlot;
pub use meta::{RateLimit, ResponseMeta};
pub use options::RequestOptions;
pub use response_format::ResponseFormat;
pub use tool::{FunctionDefinition, Tool, ToolChoice};
