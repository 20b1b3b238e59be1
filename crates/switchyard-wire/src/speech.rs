//! Speech, `POST /v1/audio/speech`: the request as OpenAI documents it
//! (<https://platform.openai.com/docs/api-reference/audio/createSpeech>); the answer is audio
//! bytes, not JSON.

use crate::input::ModelInput;

/// A speech request: the text to speak as `input`; `voice`, `response_format`, `speed`,
/// `instructions`, ... stay in `extra` and go upstream as they came.
pub type SpeechRequest = ModelInput<String>;
