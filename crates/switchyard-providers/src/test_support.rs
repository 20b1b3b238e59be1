//! What the adapters' tests share: a fake upstream on a loopback port ([`serve`]), and streamed
//! tool calls put back together the way OpenAI
//! clients do (<https://platform.openai.com/docs/api-reference/chat-streaming>: the first
//! piece of a call carries its `index`, `id`, `type` and name, later pieces of the same `index`
//! only more `arguments`), checking on the way that the pieces keep to that contract.

use std::collections::BTreeMap;

use switchyard_wire::ChatChunk;

/// One tool call, whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AssembledCall {
    pub index: u32,
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// The tool calls of choice 0, by index. Panics (failing the test) when a call's first piece
/// lacks its id or name, a later piece repeats them, an id serves two calls, or the joined
/// arguments are not a JSON object.
pub(crate) fn assembled_tool_calls(chunks: &[ChatChunk]) -> Vec<AssembledCall> {
    let mut calls: BTreeMap<u32, (String, String, String)> = BTreeMap::new();
    for piece in chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter(|c| c.index == 0)
        .flat_map(|c| c.delta.tool_calls.iter().flatten())
    {
        let function = piece.function.clone().unwrap_or_default();
        match calls.get_mut(&piece.index) {
            None => {
                let id = piece
                    .id
                    .clone()
                    .expect("the first piece of a call has its id");
                let name = function
                    .name
                    .expect("the first piece of a call has its name");
                assert_eq!(piece.kind.as_deref(), Some("function"));
                calls.insert(
                    piece.index,
                    (id, name, function.arguments.unwrap_or_default()),
                );
            }
            Some((_, _, arguments)) => {
                assert!(
                    piece.id.is_none() && function.name.is_none(),
                    "later pieces carry arguments only: {piece:?}"
                );
                arguments.push_str(&function.arguments.unwrap_or_default());
            }
        }
    }
    let assembled: Vec<AssembledCall> = calls
        .into_iter()
        .map(|(index, (id, name, arguments))| AssembledCall {
            index,
            id,
            name,
            arguments: serde_json::from_str(&arguments).unwrap_or_else(|e| {
                panic!("call {index}: arguments `{arguments}` are not JSON: {e}")
            }),
        })
        .collect();
    let mut ids: Vec<&str> = assembled.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), assembled.len(), "ids are unique: {assembled:?}");
    assert!(assembled.iter().all(|c| c.arguments.is_object()));
    assembled
}

impl AssembledCall {
    /// Index, name and arguments: what a test compares when ids are checked apart.
    pub fn summary(&self) -> (u32, &str, serde_json::Value) {
        (self.index, self.name.as_str(), self.arguments.clone())
    }
}

/// The finish reasons of choice 0, in order.
pub(crate) fn finish_reasons(chunks: &[ChatChunk]) -> Vec<&str> {
    chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter(|c| c.index == 0)
        .filter_map(|c| c.finish_reason.as_deref())
        .collect()
}

/// Serves `app` on a loopback port of its own; answers its base URL.
pub(crate) async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
