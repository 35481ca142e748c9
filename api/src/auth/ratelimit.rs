//! Per-partner rate limiting of API calls (governor's GCRA, keyed by partner id): 429 with
//! `Retry-After` past the limit, and the `RateLimit-Limit`, `-Remaining`, `-Reset` and
//! `-Policy` fields of draft-ietf-httpapi-ratelimit-headers-07 on every authenticated
//! response, so that a partner can pace itself before it is refused. `RateLimit-Reset` is
//! the seconds until the allowance is full again while calls remain, and until the next
//! call is allowed when none does: on a 429 it names the same moment as `Retry-After`.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
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
