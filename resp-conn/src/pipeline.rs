//! Turning a pipeline's raw replies into its result, shared by both fronts.

use bytes::BytesMut;
use resp_parser::GenericFrame;

use crate::cmd::Pipeline;
use crate::error::{Error, Result, ServerError};
use crate::replies::{Replies, Skip};
use crate::reply::Value;
use crate::sync::check_error;

/// Builds the result of `pipeline` from its `replies`, in order.
///
/// A plain pipeline gives an array of the replies that are not ignored; an ignored
/// reply that is an error fails the whole result. An atomic pipeline gives `EXEC`'s
/// array (ignored entries removed, an ignored error failing it), or null if a watched
/// key changed; a command the
/// server refused to queue fails it with that command's error.
pub(crate) fn assemble(pipeline: &Pipeline, mut replies: Vec<Value>) -> Result<Value> {
    if !pipeline.is_atomic() {
        return keep(pipeline, replies);
    }
    let exec = replies.pop().ok_or(Error::ConnectionClosed)?;
    let mut queued = replies.into_iter();
    // MULTI's own reply, then one +QUEUED (or a refusal) per command.
    if let Some(multi) = queued.next() {
        check_error(multi)?;
    }
    for reply in queued {
        check_error(reply)?;
    }
    match check_error(exec)? {
        GenericFrame::Array(results) => keep(pipeline, results),
        null if null.is_null() => Ok(null),
        other => Err(Error::Server(ServerError::parse(
            format!("ERR unexpected EXEC reply: {}", other.kind_name()).as_bytes(),
        ))),
    }
}

/// The replies of the commands that are not ignored, as one array; an ignored reply
/// that is an error fails the whole result.
fn keep(pipeline: &Pipeline, replies: Vec<Value>) -> Result<Value> {
    if !pipeline.has_ignored() {
        return Ok(GenericFrame::Array(replies));
    }
    let mut kept = Vec::with_capacity(replies.len());
    for (i, reply) in replies.into_iter().enumerate() {
        if pipeline.is_ignored(i) {
            check_error(reply)?;
        } else {
            kept.push(reply);
        }
    }
    Ok(GenericFrame::Array(kept))
}

/// The bytes of `pipeline` preceded by a `SCRIPT LOAD` for every script it calls, and
/// how many replies they bring: for connections that do not track loaded scripts.
pub(crate) fn encode_with_script_loads(pipeline: &Pipeline) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    write_with_script_loads(pipeline, &mut out);
    (out, reply_count_with_script_loads(pipeline))
}

/// Appends what [`encode_with_script_loads`] returns to `out`.
pub(crate) fn write_with_script_loads(pipeline: &Pipeline, out: &mut Vec<u8>) {
    for (_, source) in pipeline.scripts() {
        crate::script::load_cmd(source).write_to(out);
    }
    pipeline.write_to(out);
}

/// How many replies the bytes of [`write_with_script_loads`] bring.
pub(crate) fn reply_count_with_script_loads(pipeline: &Pipeline) -> usize {
    pipeline.scripts().len() + pipeline.reply_count()
}

/// The result of a pipeline sent by [`encode_with_script_loads`]: checks the loads'
/// replies, then assembles the rest.
pub(crate) fn assemble_after_script_loads(
    pipeline: &Pipeline,
    mut replies: Vec<Value>,
) -> Result<Value> {
    let loads = pipeline.scripts().len().min(replies.len());
    for load in replies.drain(..loads) {
        check_error(load)?;
    }
    assemble(pipeline, replies)
}

/// Reading the replies of a non-atomic pipeline that a caller wants nothing of (read
/// into `()`), with the same outcome as assembling them: an error reply of an
/// ignored command fails it, once every reply has been read; other errors do not.
///
/// Whole replies in the read buffer are only parsed, never built into values (no
/// `Bytes` handle, no [`Value`], no `Vec` of them). A push, an attributed reply, an
/// ignored command's error, or a reply split across reads takes the ordinary way:
/// the connection reads it as a value and hands it to [`took`](Self::took). Both
/// fronts drive it the same way:
///
/// ```text
/// loop {
///     match discard.step(&mut replies, &mut rbuf) {
///         DiscardStep::Done => break,
///         DiscardStep::Fill => read more into rbuf,
///         DiscardStep::ReadOne => discard.took(read the next non-push reply),
///     }
/// }
/// discard.finish()
/// ```
pub(crate) struct Discard<'p> {
    pipeline: &'p Pipeline,
    /// Replies accounted for so far.
    done: usize,
    first_error: Option<Error>,
}

/// What the connection does next for a [`Discard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiscardStep {
    /// Every reply is accounted for: call [`Discard::finish`].
    Done,
    /// Read more bytes into the buffer.
    Fill,
    /// Read the next reply as a value (pushes set aside) and pass it to
    /// [`Discard::took`].
    ReadOne,
}

impl<'p> Discard<'p> {
    pub(crate) fn new(pipeline: &'p Pipeline) -> Self {
        debug_assert!(!pipeline.is_atomic(), "EXEC's reply needs assembling");
        Discard {
            pipeline,
            done: 0,
            first_error: None,
        }
    }

    /// Skips what it can of the buffer and says what the connection does next.
    pub(crate) fn step(&mut self, replies: &mut Replies, buf: &mut BytesMut) -> DiscardStep {
        let total = self.pipeline.reply_count();
        if self.done == total {
            return DiscardStep::Done;
        }
        let (pipeline, done) = (self.pipeline, self.done);
        let (skipped, why) = replies.skip(buf, total - done, |k, reply| match reply {
            // Pushes go aside and attributes may wrap an error: the ordinary way.
            GenericFrame::Push(_) | GenericFrame::Attributed(_) => false,
            GenericFrame::SimpleError(_) | GenericFrame::BulkError(_) => {
                !pipeline.is_ignored(done + k)
            }
            _ => true,
        });
        self.done += skipped;
        match why {
            Skip::Done => DiscardStep::Done,
            Skip::Incomplete if buf.is_empty() => DiscardStep::Fill,
            // A reply split across reads goes to the resumable decoder, which never
            // reads a byte twice: parsing it again from its start after every read
            // would cost time quadratic in its length if it arrived in small pieces.
            Skip::Incomplete | Skip::UseNext => DiscardStep::ReadOne,
        }
    }

    /// Accounts for a reply read the ordinary way (not a push).
    pub(crate) fn took(&mut self, reply: Value) {
        if self.pipeline.is_ignored(self.done)
            && let Err(e) = check_error(reply)
        {
            self.first_error.get_or_insert(e);
        }
        self.done += 1;
    }

    /// The outcome, once [`step`](Self::step) said [`DiscardStep::Done`].
    pub(crate) fn finish(self) -> Result<()> {
        self.first_error.map_or(Ok(()), Err)
    }
}
