//! Audio calls: speech from text (`/audio/speech`, a JSON request answered with audio bytes,
//! streamed back as the upstream sends them) and transcription (`/audio/transcriptions`, an
//! uploaded file sent on as `multipart/form-data`, as OpenAI documents both:
//! <https://platform.openai.com/docs/api-reference/audio>).

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::ProviderError;

/// The bytes of an answer, as the upstream sends them.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ProviderError>> + Send>>;

/// Spoken audio: its media type and its bytes, streamed.
pub struct Audio {
    /// `audio/mpeg`, `audio/wav`, ...
    pub content_type: String,
    /// The audio, as it arrives.
    pub body: ByteStream,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audio")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// An uploaded audio file.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFile {
    /// Its file name, as the client sent it (upstreams read the format from it).
    pub filename: String,
    /// Its media type, when the client sent one.
    pub content_type: Option<String>,
    /// Its bytes.
    pub bytes: Bytes,
}

/// A transcription request, read from a `multipart/form-data` upload.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionRequest {
    /// The model group asked for.
    pub model: String,
    /// The audio.
    pub file: AudioFile,
    /// The other form fields (`language`, `prompt`, `response_format`, `temperature`,
    /// `timestamp_granularities[]`, ...), in order, passed through.
    pub fields: Vec<(String, String)>,
}

impl TranscriptionRequest {
    /// The value of the form field `name`, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// The request as a `multipart/form-data` body for an upstream whose model is `model`:
    /// its content type (with the boundary) and its bytes.
    pub fn to_multipart(&self, model: &str) -> (String, Bytes) {
        let boundary = format!("switchyard-{:032x}", fastrand::u128(..));
        let mut body = Vec::with_capacity(self.file.bytes.len() + 512);
        let mut text = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                    escape(name)
                )
                .as_bytes(),
            );
        };
        text("model", model);
        for (name, value) in &self.fields {
            text(name, value);
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                escape(&self.file.filename),
                self.file
                    .content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream")
            )
            .as_bytes(),
        );
        body.extend_from_slice(&self.file.bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (
            format!("multipart/form-data; boundary={boundary}"),
            Bytes::from(body),
        )
    }
}

/// A name or file name as a quoted form-data parameter: quotes and line breaks percent-encoded,
/// as the WHATWG HTML standard encodes them in multipart/form-data.
fn escape(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A transcription: its media type (`application/json`, or `text/plain` for `text`, `srt`,
/// `vtt`) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The body's media type.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

impl Transcript {
    /// The token usage a JSON transcription reports (`usage: {type: "tokens", input_tokens,
    /// output_tokens}`), if it does.
    pub fn token_usage(&self) -> Option<(u64, u64)> {
        let value: Value = serde_json::from_slice(&self.body).ok()?;
        let usage = value.get("usage")?;
        Some((
            usage.get("input_tokens")?.as_u64()?,
            usage.get("output_tokens")?.as_u64().unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_is_sent_on_as_multipart_with_the_deployments_model() {
        let request = TranscriptionRequest {
            model: "group".to_owned(),
            file: AudioFile {
                filename: "a\"b.wav".to_owned(),
                content_type: Some("audio/wav".to_owned()),
                bytes: Bytes::from_static(b"RIFF...."),
            },
            fields: vec![("language".to_owned(), "en".to_owned())],
        };
        let (content_type, body) = request.to_multipart("whisper-1");
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("a boundary");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
        assert!(
            text.contains("name=\"model\"\r\n\r\nwhisper-1\r\n"),
            "{text}"
        );
        assert!(text.contains("name=\"language\"\r\n\r\nen\r\n"), "{text}");
        assert!(
            text.contains("filename=\"a%22b.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF....\r\n"),
            "{text}"
        );
        assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
        assert_eq!(request.field("language"), Some("en"));
    }
}
