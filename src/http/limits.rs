//! Rate limits against guessing: login attempts per client address (see `client` for how the
//! address is found behind a proxy).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Login attempts allowed per client address: a burst of this many, then one every
/// `60 / LOGIN_PER_MINUTE` seconds.
pub const LOGIN_PER_MINUTE: u32 = 10;

pub struct LoginLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimit {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(LOGIN_PER_MINUTE).expect("not zero");
        LoginLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }
}

impl LoginLimit {
    /// Whether one more attempt from `client` may go ahead (an unknown address shares one
    /// bucket with every other unknown one).
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        let key = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let allowed = self.limiter.check_key(&key).is_ok();
        // Forget addresses whose buckets are full again, so the map stays small.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_budget() {
        let limit = LoginLimit::default();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        for _ in 0..LOGIN_PER_MINUTE {
            assert!(limit.allows(a));
        }
        assert!(!limit.allows(a));
        assert!(limit.allows(b));
    }
}
