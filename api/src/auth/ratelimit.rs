//! Per-partner rate limiting of API calls (governor's GCRA, keyed by partner id): 429 with
//! `Retry-After` past the limit, and the `RateLimit-Limit`, `-Remaining`, `-Reset` and
//! `-Policy` fields of draft-ietf-httpapi-ratelimit-headers-07 on every authenticated
//! response, so that a partner can pace itself before it is refused. `RateLimit-Reset` is
//! the seconds until the allowance is full again while calls remain, and until the next
//! call is allowed when none does: on a 429 it names the same moment as `Retry-After`.
//!
//! Beside it: the failed token requests each client and address may make
//! ([`FailureLimits`]), and what a partner may hold open at once ([`Holds`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

type Limiter =
    RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock, StateInformationMiddleware>;

/// Where a partner stands after a call.
#[derive(Debug, Clone, Copy)]
pub struct RateInfo {
    /// Calls per window.
    pub limit: u32,
    /// Calls left right now.
    pub remaining: u32,
    /// Seconds until the allowance is full again.
    pub reset: u64,
}

/// The calls each partner may make: `per_minute`, in bursts of up to as many.
pub struct ApiLimits {
    limiter: Limiter,
    per_minute: u32,
    clock: DefaultClock,
}

impl ApiLimits {
    /// `per_minute` calls per partner per minute.
    pub fn new(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            per_minute,
            clock: DefaultClock::default(),
        }
    }

    /// Counts a call of `partner`: its standing, or its standing and the seconds to wait.
    pub fn check(&self, partner: Uuid) -> Result<RateInfo, (RateInfo, u64)> {
        self.charge(partner, 1)
    }

    /// Counts `calls` calls (at least one) of `partner` at once, all or none: its standing, or its
    /// standing and the seconds to wait (a minute when `calls` is more than a minute
    /// allows: it never fits).
    pub fn charge(&self, partner: Uuid, calls: u32) -> Result<RateInfo, (RateInfo, u64)> {
        let seconds_per_call = 60.0 / f64::from(self.per_minute);
        let calls = NonZeroU32::new(calls).unwrap_or(NonZeroU32::MIN);
        let Ok(outcome) = self.limiter.check_key_n(&partner, calls) else {
            crate::prometheus::rate_limited();
            return Err((
                RateInfo {
                    limit: self.per_minute,
                    remaining: 0,
                    reset: 60,
                },
                60,
            ));
        };
        match outcome {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(RateInfo {
                    limit: self.per_minute,
                    remaining,
                    reset: (f64::from(self.per_minute - remaining.min(self.per_minute))
                        * seconds_per_call)
                        .ceil() as u64,
                })
            }
            Err(not_until) => {
                crate::prometheus::rate_limited();
                // Rounded up: a retry at `Retry-After` must find a call allowed. With none
                // left, the quota is "reset" (for the next call) at that same moment.
                let wait = not_until
                    .wait_time_from(self.clock.now())
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64;
                Err((
                    RateInfo {
                        limit: self.per_minute,
                        remaining: 0,
                        reset: wait,
                    },
                    wait,
                ))
            }
        }
    }

    /// Forgets partners that have been quiet long enough to be back at full allowance.
    pub fn tidy(&self) {
        self.limiter.retain_recent();
    }
}

/// A request's slot for its [`RateInfo`], filled by the `Actor` extractor.
#[derive(Debug, Clone, Default)]
pub struct RateSlot(Arc<Mutex<Option<RateInfo>>>);

impl RateSlot {
    /// The standing recorded last.
    pub fn get(&self) -> Option<RateInfo> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the standing of the request's partner.
    pub fn set(&self, info: RateInfo) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(info);
    }
}

/// Adds the `RateLimit-*` headers to responses of authenticated requests.
pub async fn headers(mut request: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let info = *slot.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(info) = info {
        let headers = response.headers_mut();
        for (name, value) in [
            ("ratelimit-limit", info.limit.to_string()),
            ("ratelimit-remaining", info.remaining.to_string()),
            ("ratelimit-reset", info.reset.to_string()),
            ("ratelimit-policy", format!("{};w=60", info.limit)),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    response
}

/// What each partner (or address) holds open at once (GraphQL subscriptions, websockets
/// not yet authenticated): at most `max` each, so that one cannot take what all share.
#[derive(Debug)]
pub struct Holds<K = Uuid> {
    max: usize,
    held: Mutex<HashMap<K, usize>>,
}

/// One thing held open, let go when dropped.
#[derive(Debug)]
pub struct Hold<K: std::hash::Hash + Eq = Uuid> {
    holds: Arc<Holds<K>>,
    key: K,
}

impl<K: std::hash::Hash + Eq + Clone> Holds<K> {
    /// At most `max` at once per key.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The most one key may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// One more for `key`, if it holds fewer than the most.
    pub fn hold(self: &Arc<Self>, key: K) -> Option<Hold<K>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(key.clone()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Hold {
            holds: self.clone(),
            key,
        })
    }
}

impl<K: std::hash::Hash + Eq> Drop for Hold<K> {
    fn drop(&mut self) {
        let mut held = self.holds.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Failed token requests, counted per (client id, address), per address and per client id.
///
/// Blocks by (client id, address) and by address are checked before a secret is hashed, so
/// a blocked sender costs nothing. The per-client count (ten times higher, for a client id
/// sprayed from many addresses) never locks out the right secret: while it is used up, a
/// wrong secret for that client is answered 429 instead of 401, the right one still gets
/// its token, so that whoever knows a client id cannot lock its partner out.
pub struct FailureLimits {
    by_pair: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_client: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<Blocked, Instant>>,
}

/// What a block applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Blocked {
    Pair(String, IpAddr),
    Address(IpAddr),
    Client(String),
}

impl FailureLimits {
    /// `per_minute` failures per client id from one address, four times as many per
    /// address (several clients may share a gateway), ten times as many per client id.
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let times =
            |n: u32| per_minute.saturating_mul(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            by_pair: RateLimiter::keyed(Quota::per_minute(per_minute)),
            by_address: RateLimiter::keyed(Quota::per_minute(times(4))),
            by_client: RateLimiter::keyed(Quota::per_minute(times(10))),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn wait(&self, keys: &[Blocked]) -> Option<u64> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| blocked.get(k))
            .filter(|until| **until > now)
            .map(|until| until.duration_since(now).as_secs().max(1))
            .max()
    }

    /// Seconds until `client_id` may try again from `address`, if that pair or the address
    /// is blocked now (checked before any hashing).
    pub fn blocked_for(&self, client_id: &str, address: IpAddr) -> Option<u64> {
        self.wait(&[
            Blocked::Pair(client_id.to_owned(), address),
            Blocked::Address(address),
        ])
    }

    /// Seconds until `client_id` may fail again without 429, if its per-client allowance
    /// is used up (consulted only once its secret turned out wrong).
    pub fn client_blocked_for(&self, client_id: &str) -> Option<u64> {
        self.wait(&[Blocked::Client(client_id.to_owned())])
    }

    /// Counts a failure; blocks what has used up its allowance.
    pub fn failed(&self, client_id: &str, address: IpAddr) {
        let waits = [
            (
                Blocked::Pair(client_id.to_owned(), address),
                self.by_pair
                    .check_key(&(client_id.to_owned(), address))
                    .err(),
            ),
            (
                Blocked::Address(address),
                self.by_address.check_key(&address).err(),
            ),
            (
                Blocked::Client(client_id.to_owned()),
                self.by_client.check_key(&client_id.to_owned()).err(),
            ),
        ];
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if blocked.len() > 10_000 {
            blocked.retain(|_, until| *until > now);
        }
        for (key, wait) in waits {
            if let Some(not_until) = wait {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                blocked.insert(key, now + wait.max(Duration::from_secs(1)));
            }
        }
        self.by_pair.retain_recent();
        self.by_address.retain_recent();
        self.by_client.retain_recent();
    }
}
