//! Receiving an `npm publish` body as it arrives: [`PublishReader`] splits it, each attachment's
//! content streams into the blob store's staging area with [`Service::stage`] (hashed on the
//! way, never whole in memory), and the rest of the document is kept as a bounded skeleton.

use axum::http::StatusCode;
use bytes::{Buf as _, Bytes};
use futures::{Stream, StreamExt as _};
use reliquary_core::Service;
use reliquary_core::kit::Staged;
use reliquary_http::endpoint::EndpointError;

use super::endpoint::Npm;
use super::{NpmError, PublishReader, Step};

/// Decoded bytes handed to the blob store at a time, each piece in an allocation of its own size:
/// the blob store keeps the pieces of a multipart part as they are, so a piece in a Vec grown by
/// doubling would hold up to twice its bytes.
const STAGE_CHUNK_BYTES: usize = 256 * 1024;
/// Room left in a piece for what one feed may decode past an exact fill (a group's rounding).
const SLACK_BYTES: usize = 64;

type Refusal = EndpointError<Npm>;

/// A publish body received: the document's skeleton, and each attachment's content staged
/// (named as in `_attachments`, in the body's order).
pub(super) struct Received {
    pub skeleton: Vec<u8>,
    pub tarballs: Vec<(String, Staged)>,
}

/// How npm is told the reader refused a body: 413 past the skeleton bound, else 400.
fn refusal(err: &NpmError) -> Refusal {
    let status = match err {
        NpmError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal::new(status, err.to_string())
}

/// Drops the staged content of a refused publish.
pub(super) async fn discard(service: &Service, tarballs: Vec<(String, Staged)>) {
    for (_, staged) in tarballs {
        service.discard(staged).await;
    }
}

/// Reads a publish body to its end, staging its attachments. Nothing stays staged when it is
/// refused.
///
/// # Errors
/// 400 for a body the reader refuses or that cannot be read, 413 past the skeleton bound or the
/// asset size quota; blob store failures.
pub(super) async fn receive<B, E>(service: &Service, body: B) -> Result<Received, Refusal>
where
    B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    let mut source = Source {
        body,
        chunk: Bytes::new(),
        reader: PublishReader::default(),
        decoded: Vec::new(),
        attachment_ended: false,
        refused: None,
    };
    let mut tarballs = Vec::new();
    let received = stage_attachments(service, &mut source, &mut tarballs)
        .await
        .and_then(|()| source.reader.finish().map_err(|e| refusal(&e)));
    match received {
        Ok(skeleton) => Ok(Received { skeleton, tarballs }),
        Err(refused) => {
            discard(service, tarballs).await;
            Err(refused)
        }
    }
}

async fn stage_attachments<B, E>(
    service: &Service,
    source: &mut Source<B>,
    tarballs: &mut Vec<(String, Staged)>,
) -> Result<(), Refusal>
where
    B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    while let Some(name) = source.next_attachment().await? {
        let content = futures::stream::unfold(&mut *source, |source| async move {
            let chunk = source.next_content().await?;
            Some((Ok::<_, std::io::Error>(chunk), source))
        });
        let staged = service.stage(Box::pin(content)).await;
        // The content stream ends early when the body is refused: what it staged goes.
        if let Some(refused) = source.refused.take() {
            if let Ok(staged) = staged {
                service.discard(staged).await;
            }
            return Err(refused);
        }
        tarballs.push((name, staged?));
    }
    Ok(())
}

/// The body being read.
struct Source<B> {
    body: B,
    /// What is left of the last body chunk.
    chunk: Bytes,
    reader: PublishReader,
    /// Attachment content decoded, not handed out yet.
    decoded: Vec<u8>,
    attachment_ended: bool,
    /// Why the body was refused while an attachment streamed.
    refused: Option<Refusal>,
}

impl<B, E> Source<B>
where
    B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    /// Whether the body has more: false at its end.
    async fn fill(&mut self) -> Result<bool, Refusal> {
        while self.chunk.is_empty() {
            match self.body.next().await {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "reading an npm publish body failed");
                    return Err(Refusal::bad_request("The request body could not be read"));
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Reads up to the next attachment's content: its name, or `None` at the body's end.
    async fn next_attachment(&mut self) -> Result<Option<String>, Refusal> {
        while self.fill().await? {
            let (used, step) = self
                .reader
                .feed(&self.chunk, &mut self.decoded)
                .map_err(|e| refusal(&e))?;
            self.chunk.advance(used);
            if let Step::Attachment(name) = step {
                self.attachment_ended = false;
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// The next piece of the current attachment's content; `None` at its end, or when the body
    /// is refused (`refused` says why).
    async fn next_content(&mut self) -> Option<Bytes> {
        loop {
            let room = STAGE_CHUNK_BYTES.saturating_sub(self.decoded.len());
            if room < SLACK_BYTES || (self.attachment_ended && !self.decoded.is_empty()) {
                return Some(Bytes::from(std::mem::take(&mut self.decoded)));
            }
            if self.attachment_ended {
                return None;
            }
            if self.decoded.capacity() == 0 {
                self.decoded.reserve_exact(STAGE_CHUNK_BYTES + SLACK_BYTES);
            }
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    let ended = NpmError::InvalidDocument(
                        "not JSON: the body ends inside an attachment".into(),
                    );
                    self.refused = Some(refusal(&ended));
                    return None;
                }
                Err(refused) => {
                    self.refused = Some(refused);
                    return None;
                }
            }
            // Four characters decode to three bytes: this fills the piece, and no more.
            let piece = self.chunk.len().min(room / 3 * 4);
            match self.reader.feed(&self.chunk[..piece], &mut self.decoded) {
                Ok((used, step)) => {
                    self.chunk.advance(used);
                    self.attachment_ended = step == Step::AttachmentEnd;
                }
                Err(e) => {
                    self.refused = Some(refusal(&e));
                    return None;
                }
            }
        }
    }
}
