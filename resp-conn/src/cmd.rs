//! Commands and pipelines, encoded as they are built.
//!
//! A [`Cmd`] writes each argument in RESP form the moment it is added, so sending it is
//! one copy into the connection's write buffer. A [`Pipeline`] holds many commands that
//! go out in one write; its replies come back in order, and with
//! [`Pipeline::atomic`] the whole pipeline runs inside `MULTI`/`EXEC`.
//!
//! ```
//! use resp_conn::{cmd, Pipeline};
//!
//! let mut set = cmd("SET");
//! set.arg("key").arg(42);
//! assert_eq!(set.argc(), 3);
//!
//! let mut pipe = Pipeline::new();
//! pipe.cmd("INCR").arg("hits");
//! pipe.cmd("EXPIRE").arg("hits").arg(60).ignore();
//! pipe.add(&set);
//! assert_eq!(pipe.len(), 3);
//! ```

use resp_parser::encode::{ToArg, write_command_header};

/// One command: its name and arguments, already RESP-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    args: Vec<u8>,
    argc: usize,
}

/// Starts a command: `cmd("SET").arg("key").arg("value")`.
pub fn cmd(name: &str) -> Cmd {
    // Room for a typical command up front: growing from empty through each argument
    // cost two or three reallocations per command.
    let mut c = Cmd {
        args: Vec::with_capacity(64),
        argc: 0,
    };
    c.arg(name);
    c
}

impl Cmd {
    /// An empty command; add its name with [`arg`](Self::arg) first.
    pub fn new() -> Cmd {
        Cmd::default()
    }

    /// Appends one argument: bytes, a string, a number, a bool (as `1`/`0`), or your
    /// own type implementing [`ToArg`].
    pub fn arg<A: ToArg>(&mut self, arg: A) -> &mut Cmd {
        arg.write_arg(&mut self.args);
        self.argc += 1;
        self
    }

    /// Appends every item as one argument each: `cmd("DEL").args(&keys)`.
    pub fn args<I>(&mut self, args: I) -> &mut Cmd
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Appends all of `other`'s arguments.
    pub fn append(&mut self, other: &Cmd) -> &mut Cmd {
        self.args.extend_from_slice(&other.args);
        self.argc += other.argc;
        self
    }

    /// How many arguments, counting the command name.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Appends the command's RESP bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        write_command_header(out, self.argc);
        out.extend_from_slice(&self.args);
    }

    /// The command's RESP bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.args.len() + 16);
        self.write_to(&mut out);
        out
    }

    /// The command's name and its first argument (a subcommand, for `CLIENT`), as
    /// sent; empty and `None` for a command without them.
    pub(crate) fn name_and_subcommand(&self) -> (&[u8], Option<&[u8]>) {
        leading_args(&self.args, self.argc)
    }

    /// The command name in upper case, for routing and error messages.
    pub fn name(&self) -> String {
        match resp_parser::parse(&self.args) {
            Ok(Some((frame, _))) => frame
                .as_bytes()
                .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// The first two of the `argc` RESP-encoded arguments at the start of `args`
/// (`$<len>\r\n<bytes>\r\n`...), read in place.
fn leading_args(args: &[u8], argc: usize) -> (&[u8], Option<&[u8]>) {
    let first = resp_parser::parse(args);
    let Ok(Some((resp_parser::Frame::BulkString(name), used))) = first else {
        return (&[], None);
    };
    if argc < 2 {
        return (name, None);
    }
    match resp_parser::parse(&args[used..]) {
        Ok(Some((resp_parser::Frame::BulkString(sub), _))) => (name, Some(sub)),
        _ => (name, None),
    }
}

/// Many commands sent in one write, their replies read in order.
///
/// Errors stay in place: one failing command does not stop the others, and its error
/// comes back at its position (convert to `Result<T, ServerError>` to see each one).
///
/// All commands share one buffer: adding a command allocates nothing per command
/// beyond that buffer's growth.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// Every command's arguments, RESP-encoded, back to back.
    args: Vec<u8>,
    commands: Vec<Entry>,
    atomic: bool,
    /// The scripts that EVALSHA commands in the pipeline need: (sha1, source).
    scripts: Vec<(String, std::sync::Arc<str>)>,
}

/// One command of a pipeline: where its arguments start in the shared buffer.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    argc: usize,
    ignored: bool,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// An empty pipeline with room for `n` commands.
    pub fn with_capacity(n: usize) -> Pipeline {
        Pipeline {
            args: Vec::with_capacity(n * 32),
            commands: Vec::with_capacity(n),
            atomic: false,
            scripts: Vec::new(),
        }
    }

    /// Runs the pipeline as a transaction: `MULTI`, the commands, `EXEC`. The replies
    /// are then `EXEC`'s; a queued command rejected by the server aborts it all
    /// (`EXECABORT`), and a `WATCH`ed key that changed makes it return null.
    pub fn atomic(&mut self) -> &mut Pipeline {
        self.atomic = true;
        self
    }

    /// True if the pipeline runs inside `MULTI`/`EXEC`.
    pub fn is_atomic(&self) -> bool {
        self.atomic
    }

    /// Starts a new command in the pipeline; [`arg`](Self::arg) then adds to it.
    pub fn cmd(&mut self, name: &str) -> &mut Pipeline {
        self.commands.push(Entry {
            start: self.args.len(),
            argc: 0,
            ignored: false,
        });
        self.arg(name)
    }

    /// Appends an argument to the last command.
    ///
    /// # Panics
    /// If the pipeline has no command yet (call [`cmd`](Self::cmd) first).
    pub fn arg<A: ToArg>(&mut self, arg: A) -> &mut Pipeline {
        let last = self
            .commands
            .last_mut()
            .expect("Pipeline::arg called before Pipeline::cmd");
        arg.write_arg(&mut self.args);
        last.argc += 1;
        self
    }

    /// Appends every item as one argument each to the last command.
    ///
    /// # Panics
    /// If the pipeline has no command yet.
    pub fn args<I>(&mut self, args: I) -> &mut Pipeline
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Adds a command built elsewhere.
    pub fn add(&mut self, command: &Cmd) -> &mut Pipeline {
        self.commands.push(Entry {
            start: self.args.len(),
            argc: command.argc,
            ignored: false,
        });
        self.args.extend_from_slice(&command.args);
        self
    }

    /// Leaves the last command's reply out of the pipeline's result (an error reply
    /// still fails the pipeline).
    pub fn ignore(&mut self) -> &mut Pipeline {
        if let Some(last) = self.commands.last_mut() {
            last.ignored = true;
        }
        self
    }

    /// How many commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True if there are no commands.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Removes every command, keeping the allocations and the atomic flag.
    pub fn clear(&mut self) {
        self.args.clear();
        self.commands.clear();
        self.scripts.clear();
    }

    /// Adds a script call (`EVALSHA`). The connection loads the script first if it
    /// has not yet on this connection, in the same write, so that even an atomic
    /// pipeline never meets `NOSCRIPT`.
    pub fn invoke_script(
        &mut self,
        invocation: &crate::script::ScriptInvocation<'_>,
    ) -> &mut Pipeline {
        let script = invocation.script();
        if !self.scripts.iter().any(|(sha, _)| sha == script.hash()) {
            self.scripts
                .push((script.hash().to_owned(), script.source_arc()));
        }
        self.add(&invocation.evalsha())
    }

    pub(crate) fn scripts(&self) -> &[(String, std::sync::Arc<str>)] {
        &self.scripts
    }

    /// Calls `f` with each command's name and first argument, in order (see
    /// [`Cmd::name_and_subcommand`]).
    pub(crate) fn each_name_and_subcommand(&self, mut f: impl FnMut(&[u8], Option<&[u8]>)) {
        for e in &self.commands {
            let (name, sub) = leading_args(&self.args[e.start..], e.argc);
            f(name, sub);
        }
    }

    /// Appends the bytes of every command (inside `MULTI`/`EXEC` if atomic) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.args.len() + 16 * self.commands.len() + 32);
        if self.atomic {
            out.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        }
        for (i, e) in self.commands.iter().enumerate() {
            let end = self
                .commands
                .get(i + 1)
                .map_or(self.args.len(), |next| next.start);
            write_command_header(out, e.argc);
            out.extend_from_slice(&self.args[e.start..end]);
        }
        if self.atomic {
            out.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        }
    }

    /// How many replies the server sends for this pipeline.
    pub fn reply_count(&self) -> usize {
        if self.atomic {
            self.commands.len() + 2
        } else {
            self.commands.len()
        }
    }

    /// Whether any command's reply is left out of the result.
    pub(crate) fn has_ignored(&self) -> bool {
        self.commands.iter().any(|e| e.ignored)
    }

    /// Whether the reply of command `i` is left out of the result.
    pub(crate) fn is_ignored(&self, i: usize) -> bool {
        self.commands.get(i).is_some_and(|e| e.ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_they_are_built() {
        let mut c = cmd("SET");
        c.arg("k").arg(-1).arg(1.5).arg(b"\x00\xff");
        assert_eq!(
            c.to_bytes(),
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n-1\r\n$3\r\n1.5\r\n$2\r\n\x00\xff\r\n"
        );
        assert_eq!(c.name(), "SET");
        let mut del = cmd("del");
        del.args(["a", "b"]);
        assert_eq!((del.argc(), del.name().as_str()), (3, "DEL"));
    }

    #[test]
    fn atomic_pipelines_wrap_in_multi_exec() {
        let mut p = Pipeline::new();
        p.atomic().cmd("PING");
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(
            out,
            b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(p.reply_count(), 3);
    }
}
