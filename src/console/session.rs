//! Console sessions: a random id in a `__Host-` cookie (HttpOnly, Secure,
//! SameSite=Strict), kept here only as its SHA-256, in memory — a restart
//! signs everyone out. A session ends after `session_idle` unused, after
//! `session_absolute` in all, when its person or an admin revokes it, and
//! when its principal is removed, disabled or rotated.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::TokenHash;

/// The cookie's name. `__Host-` makes the browser refuse it unless it is
/// Secure, has `Path=/` and no `Domain`: no other host can set or read it.
pub const COOKIE: &str = "__Host-cv_session";

/// At most this many live sessions in all (a bound on memory).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// A public handle for lists and revocation (not the cookie's secret).
    pub handle: String,
    pub principal: String,
    /// The principal's token hash at sign-in: a rotation ends the session.
    pub token_hash: TokenHash,
    /// The CSRF token every state-changing form carries.
    pub csrf: String,
    /// Unix seconds, for lists.
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    created: Instant,
    last_seen: Instant,
    step_up: Option<Instant>,
}

impl Session {
    /// Whether `token` is this session's CSRF token.
    #[must_use]
    pub fn csrf_matches(&self, token: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The live sessions.
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    absolute: Duration,
    step_up_window: Duration,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random() -> String {
    crate::crypto::new_token().as_str().to_owned()
}

impl Sessions {
    #[must_use]
    pub fn new(idle: Duration, absolute: Duration, step_up_window: Duration) -> Self {
        Self {
            by_hash: Mutex::new(HashMap::new()),
            idle,
            absolute,
            step_up_window,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<[u8; 32], Session>) -> R) -> R {
        f(&mut self.by_hash.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Starts a session for `principal` (just checked with a passkey, which
    /// counts as a fresh step-up); the cookie's secret and the session.
    pub fn start(&self, principal: &str, token_hash: TokenHash, now_unix: i64) -> (String, Session) {
        let secret = random();
        let now = Instant::now();
        let session = Session {
            handle: hex::encode(&hash(&secret)[..8]),
            principal: principal.to_owned(),
            token_hash,
            csrf: random(),
            signed_in_at: now_unix,
            last_seen_at: now_unix,
            created: now,
            last_seen: now,
            step_up: Some(now),
        };
        self.with(|m| {
            self.expire(m, now);
            if m.len() >= MAX_SESSIONS {
                // The oldest session makes room: a flood of sign-ins cannot
                // grow memory without bound.
                if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k) {
                    m.remove(&oldest);
                }
            }
            m.insert(hash(&secret), session.clone());
        });
        (secret, session)
    }

    fn expire(&self, m: &mut HashMap<[u8; 32], Session>, now: Instant) {
        m.retain(|_, s| now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.absolute);
    }

    /// The live session behind a cookie's secret, marked as used now.
    pub fn touch(&self, secret: &str, now_unix: i64) -> Option<Session> {
        let now = Instant::now();
        self.with(|m| {
            let key = hash(secret);
            let live = m.get(&key).is_some_and(|s| {
                now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.absolute
            });
            if !live {
                m.remove(&key);
                return None;
            }
            let s = m.get_mut(&key)?;
            s.last_seen = now;
            s.last_seen_at = now_unix;
            Some(s.clone())
        })
    }

    /// Ends the session behind a cookie's secret.
    pub fn end(&self, secret: &str) -> Option<Session> {
        self.with(|m| m.remove(&hash(secret)))
    }

    /// Ends the session with this handle, if `allowed` says the asker may.
    pub fn revoke(&self, handle: &str, allowed: impl Fn(&Session) -> bool) -> Option<Session> {
        self.with(|m| {
            let key = m
                .iter()
                .find(|(_, s)| s.handle == handle && allowed(s))
                .map(|(k, _)| *k)?;
            m.remove(&key)
        })
    }

    /// Live sessions (all, or one principal's), newest first.
    pub fn list(&self, principal: Option<&str>) -> Vec<Session> {
        let now = Instant::now();
        let mut out: Vec<Session> = self.with(|m| {
            self.expire(m, now);
            m.values()
                .filter(|s| principal.is_none_or(|p| s.principal == p))
                .cloned()
                .collect()
        });
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        out
    }

    /// Records a fresh passkey check for the session behind `secret`.
    pub fn stepped_up(&self, secret: &str) {
        self.with(|m| {
            if let Some(s) = m.get_mut(&hash(secret)) {
                s.step_up = Some(Instant::now());
            }
        });
    }

    /// Uses up a fresh passkey check: true when there was one within the
    /// window (each check covers one guarded action).
    pub fn take_step_up(&self, secret: &str) -> bool {
        let now = Instant::now();
        self.with(|m| {
            m.get_mut(&hash(secret))
                .and_then(|s| s.step_up.take())
                .is_some_and(|at| now.duration_since(at) < self.step_up_window)
        })
    }

    /// Whether the session behind `secret` has a fresh passkey check.
    pub fn has_step_up(&self, secret: &str) -> bool {
        let now = Instant::now();
        self.with(|m| {
            m.get(&hash(secret))
                .and_then(|s| s.step_up)
                .is_some_and(|at| now.duration_since(at) < self.step_up_window)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(idle_ms: u64) -> Sessions {
        Sessions::new(
            Duration::from_millis(idle_ms),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn a_session_is_found_by_its_secret_only_and_ends_when_idle() {
        let s = sessions(50);
        let (secret, started) = s.start("clerk-ana", TokenHash::default(), 0);
        assert!(s.touch("not-the-secret", 0).is_none());
        assert_eq!(s.touch(&secret, 0).map(|x| x.handle), Some(started.handle));
        std::thread::sleep(Duration::from_millis(80));
        assert!(s.touch(&secret, 0).is_none(), "idle past the limit");
    }

    #[test]
    fn a_step_up_covers_one_action() {
        let s = sessions(5_000);
        let (secret, _) = s.start("po-pat", TokenHash::default(), 0);
        assert!(s.take_step_up(&secret), "signing in is a fresh check");
        assert!(!s.take_step_up(&secret), "used up");
        s.stepped_up(&secret);
        assert!(s.has_step_up(&secret));
        assert!(s.take_step_up(&secret));
    }

    #[test]
    fn revocation_needs_the_handle_and_permission() {
        let s = sessions(5_000);
        let (secret, started) = s.start("clerk-ana", TokenHash::default(), 0);
        assert!(s.revoke(&started.handle, |_| false).is_none());
        assert!(s.revoke(&started.handle, |x| x.principal == "clerk-ana").is_some());
        assert!(s.touch(&secret, 0).is_none());
    }
}
