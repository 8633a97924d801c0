//! Turning a pipeline's raw replies into its result, shared by both fronts.

use resp_parser::GenericFrame;

use crate::cmd::Pipeline;
use crate::error::{Error, Result, ServerError};
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
