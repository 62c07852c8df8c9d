//! What the store writes and runs on the server, and how each answer
//! reads: the values of a delivery's key, the Lua scripts that claim,
//! complete and release it, and the `SET` commands that stand in for two of
//! them where the server takes them (`SET NX GET` for a claim, `SET IFEQ
//! GET` for a completion). No I/O: [`RedisStore`](super::RedisStore) sends
//! them.

use std::io::Write as _;
use std::sync::LazyLock;

use ::redis::{Cmd, RedisWrite, Script, ToRedisArgs, Value};

use super::error::{foreign_value, held_by_another};
use crate::dedup::{Claim, ClaimToken, StoreError};

/// The value of a claimed key is this prefix and the owner token; the Lua
/// scripts below spell the same text.
const CLAIM_VALUE_PREFIX: &str = "claim:";

/// The value of a completed delivery's key; the Lua scripts below spell the
/// same text.
const DONE_VALUE: &str = "done";

/// The claim on Redis before 7, as [`claim_answer`] reads `SET NX GET`'s.
/// `KEYS[1]` the delivery, `ARGV[1]` our claim value, `ARGV[2]` the lease in
/// milliseconds. Answers 1 acquired, 2 done, 3 claimed by another, 0 a value
/// we did not write.
const CLAIM_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif held == 'done' then
  return 2
elseif string.sub(held, 1, 6) == 'claim:' then
  return 3
end
return 0
";

/// `KEYS[1]` the delivery, `ARGV[1]` our claim value, `ARGV[2]` the
/// retention in milliseconds. Answers 1 recorded (or done already, kept for
/// at least the retention), 2 claimed by another owner (nothing changed), 0 a
/// value we did not write. A key that expired with our lease and was not
/// claimed since is still ours to record.
const COMPLETE_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] or not held then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
elseif held == 'done' then
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return 1
elseif string.sub(held, 1, 6) == 'claim:' then
  return 2
end
return 0
";

/// `KEYS[1]` the delivery, `ARGV[1]` our claim value: deletes the key only if
/// it is still our claim. Answers 1.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
";

/// A Lua script and the SHA-1 by which Redis knows it once loaded.
pub(super) struct LuaScript {
    code: &'static str,
    sha1: String,
}

impl LuaScript {
    fn new(code: &'static str) -> Self {
        let sha1 = Script::new(code).get_hash().to_owned();
        Self { code, sha1 }
    }

    /// `EVALSHA`: the script by its SHA-1, on the delivery's `key` with our
    /// claim `value` and a number of milliseconds.
    pub(super) fn by_sha1(&self, key: Joined<'_>, value: Joined<'_>, millis: u64) -> Cmd {
        script_call("EVALSHA", &self.sha1, key, value, millis)
    }

    /// `EVAL`: the script whole, for a Redis that does not know it (it
    /// restarted, or failed over); it loads it for the next calls.
    pub(super) fn whole(&self, key: Joined<'_>, value: Joined<'_>, millis: u64) -> Cmd {
        script_call("EVAL", self.code, key, value, millis)
    }
}

fn script_call(name: &str, script: &str, key: Joined<'_>, value: Joined<'_>, millis: u64) -> Cmd {
    let mut command = command(6, [name, script], [key, value]);
    command.arg(name).arg(script).arg(1).arg(key).arg(value).arg(millis);
    command
}

/// The store's scripts, hashed once per process.
pub(super) struct Scripts {
    pub(super) claim: LuaScript,
    pub(super) complete: LuaScript,
    pub(super) release: LuaScript,
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    claim: LuaScript::new(CLAIM_SCRIPT),
    complete: LuaScript::new(COMPLETE_SCRIPT),
    release: LuaScript::new(RELEASE_SCRIPT),
});

/// What the claim script answered.
pub(super) fn claim_script_answer(answer: i64, token: ClaimToken) -> Result<Claim, StoreError> {
    match answer {
        1 => Ok(Claim::Acquired(token)),
        2 => Ok(Claim::Done),
        3 => Ok(Claim::InProgress),
        _ => Err(foreign_value()),
    }
}

/// What the completion script answered.
pub(super) fn complete_script_answer(answer: i64) -> Result<(), StoreError> {
    match answer {
        1 => Ok(()),
        2 => Err(held_by_another()),
        _ => Err(foreign_value()),
    }
}

/// The key of `token`'s delivery under `key_prefix`, and the value of its
/// claim, written straight into a command.
pub(super) fn key_and_value<'a>(key_prefix: &'a str, token: &'a ClaimToken) -> (Joined<'a>, Joined<'a>) {
    (
        Joined(key_prefix.as_bytes(), token.webhook_id().as_bytes()),
        Joined(CLAIM_VALUE_PREFIX.as_bytes(), token.owner_bytes()),
    )
}

/// A claim in one `SET key value NX GET PX lease`: sets the key only if it
/// is absent, and answers the value it found ([`claim_answer`]).
pub(super) fn set_nx_get(key: Joined<'_>, value: Joined<'_>, lease: u64) -> Cmd {
    let mut command = command(7, ["SET", "NXGETPX"], [key, value]);
    command
        .arg("SET")
        .arg(key)
        .arg(value)
        .arg("NX")
        .arg("GET")
        .arg("PX")
        .arg(lease);
    command
}

/// A completion in one `SET key done IFEQ claim:<owner> GET PX retention`:
/// records the delivery only if our claim still holds the key, and answers
/// the value it found ([`completion_answer`]).
pub(super) fn set_ifeq_get(key: Joined<'_>, value: Joined<'_>, retention: u64) -> Cmd {
    let mut command = command(8, ["SET", DONE_VALUE, "IFEQGETPX"], [key, value]);
    command
        .arg("SET")
        .arg(key)
        .arg(DONE_VALUE)
        .arg("IFEQ")
        .arg(value)
        .arg("GET")
        .arg("PX")
        .arg(retention);
    command
}

/// What `SET key claim:<owner> NX GET` found: nothing (so it set the key, and
/// the claim is ours), a done delivery, another's claim, or anything else,
/// which we did not write.
pub(super) fn claim_answer(answer: &Value, token: ClaimToken) -> Result<Claim, StoreError> {
    match answer {
        Value::Nil => Ok(Claim::Acquired(token)),
        Value::BulkString(held) if held.as_slice() == DONE_VALUE.as_bytes() => Ok(Claim::Done),
        Value::BulkString(held) if held.starts_with(CLAIM_VALUE_PREFIX.as_bytes()) => Ok(Claim::InProgress),
        _ => Err(foreign_value()),
    }
}

/// What a completion by `SET IFEQ GET` did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Completion {
    /// Our claim held the key: the delivery is recorded as done.
    Recorded,
    /// Another owner's claim holds the key: nothing changed.
    HeldByAnother,
    /// The key was gone (our lease ran out) or done already: nothing
    /// changed, and the script decides, as it does on every server.
    ForTheScript,
}

/// What `SET key done IFEQ claim:<owner> GET` found: our claim (so it set
/// the key), another's, nothing or a done delivery (so it set nothing), or
/// anything else, which we did not write.
pub(super) fn completion_answer(answer: &Value, token: &ClaimToken) -> Result<Completion, StoreError> {
    match answer {
        Value::BulkString(held) => match held.strip_prefix(CLAIM_VALUE_PREFIX.as_bytes()) {
            Some(owner) if owner == token.owner_bytes() => Ok(Completion::Recorded),
            Some(_) => Ok(Completion::HeldByAnother),
            None if held.as_slice() == DONE_VALUE.as_bytes() => Ok(Completion::ForTheScript),
            None => Err(foreign_value()),
        },
        // Nothing there, or (on a server that answers nil to a `GET` whose
        // condition failed) nothing said: either way the script decides.
        Value::Nil => Ok(Completion::ForTheScript),
        _ => Err(foreign_value()),
    }
}

/// A command of `args` arguments with room for them all: its `words`, the
/// `joined` arguments, and numbers.
fn command<const W: usize, const J: usize>(args: usize, words: [&str; W], joined: [Joined<'_>; J]) -> Cmd {
    // One byte for a number of keys, at most 20 for a number of milliseconds.
    let words = words.iter().map(|word| word.len());
    let joined = joined
        .iter()
        .map(|joined| joined.0.len().saturating_add(joined.1.len()));
    let bytes = words.chain(joined).fold(21, usize::saturating_add);
    Cmd::with_capacity(args, bytes)
}

/// One command argument made of two pieces of text, written into the
/// command's buffer without joining them first.
#[derive(Clone, Copy)]
pub(super) struct Joined<'a>(&'a [u8], &'a [u8]);

impl ToRedisArgs for Joined<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writes into the command's memory, which cannot fail.
        let _ = arg.write_all(self.0);
        let _ = arg.write_all(self.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WebhookId;

    #[test]
    fn the_scripts_spell_the_values_the_store_reads() {
        assert_eq!(
            CLAIM_VALUE_PREFIX.len(),
            6,
            "the scripts compare string.sub(held, 1, 6)"
        );
        for script in [CLAIM_SCRIPT, COMPLETE_SCRIPT] {
            assert!(script.contains(&format!("'{CLAIM_VALUE_PREFIX}'")) && script.contains(&format!("'{DONE_VALUE}'")));
        }
    }

    #[test]
    fn set_ifeq_answers_read_as_the_script_reads_the_value() {
        let token = ClaimToken::new(WebhookId::new("msg_1"), "0123");
        let complete = |answer: Value| completion_answer(&answer, &token);
        let bulk = |held: &[u8]| Value::BulkString(held.to_vec());
        assert_eq!(complete(bulk(b"claim:0123")).unwrap(), Completion::Recorded);
        for other in [
            &b"claim:0124"[..],
            b"claim:01234",
            b"claim:012",
            b"claim:",
            b"claim:\xff",
        ] {
            assert_eq!(complete(bulk(other)).unwrap(), Completion::HeldByAnother, "{other:?}");
        }
        assert_eq!(complete(bulk(b"done")).unwrap(), Completion::ForTheScript);
        assert_eq!(complete(Value::Nil).unwrap(), Completion::ForTheScript);
        for foreign in [
            bulk(b"garbage"),
            bulk(b"done "),
            bulk(b"DONE"),
            bulk(b"claim"),
            bulk(b"0123"),
            bulk(&[0xff, 0xfe]),
            bulk(b""),
            Value::Okay,
            Value::Int(1),
            Value::SimpleString("done".to_owned()),
            Value::Array(vec![Value::Nil]),
        ] {
            let err = complete(foreign.clone()).unwrap_err();
            assert!(err.is_configuration(), "{foreign:?}: {err}");
        }
    }

    #[test]
    fn set_nx_get_answers_read_as_the_script_reads_the_value() {
        let token = || ClaimToken::new(WebhookId::new("msg_1"), "owner");
        let claim = |answer: Value| claim_answer(&answer, token());
        match claim(Value::Nil) {
            Ok(Claim::Acquired(acquired)) => assert_eq!(acquired, token()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(claim(Value::BulkString(b"done".to_vec())), Ok(Claim::Done)));
        for held in [&b"claim:0123"[..], b"claim:", b"claim:\xff"] {
            assert!(matches!(claim(Value::BulkString(held.to_vec())), Ok(Claim::InProgress)));
        }
        for foreign in [
            Value::BulkString(b"garbage".to_vec()),
            Value::BulkString(b"done ".to_vec()),
            Value::BulkString(b"DONE".to_vec()),
            Value::BulkString(b"claim".to_vec()),
            Value::BulkString(vec![0xff, 0xfe]),
            Value::BulkString(Vec::new()),
            Value::Okay,
            Value::Int(1),
            Value::SimpleString("done".to_owned()),
            Value::Array(vec![Value::Nil]),
        ] {
            let err = claim(foreign.clone()).unwrap_err();
            assert!(err.is_configuration(), "{foreign:?}: {err}");
        }
    }
}
