//! A/B experiments: one model name split across variants by weight, with sticky assignment.
//!
//! A caller (the request's `user`, or a configured header) is hashed with FNV-1a together with
//! the experiment's name, so the same caller lands on the same variant on every replica and after
//! every restart, and different experiments split callers independently. Callers with no key are
//! assigned at random.

/// Where the key that keeps a caller on one variant comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyBy {
    /// The request's `user` field.
    User,
    /// A request header, such as `x-user-id` (lower case).
    Header(String),
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Its label, shown in response headers, traces and spend records.
    pub name: String,
    /// The model group that serves it.
    pub model: String,
    /// Its relative share of callers.
    pub weight: f64,
}

/// A named split of one model name across variants.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The experiment's name.
    pub name: String,
    /// The model name clients send to take part.
    pub model: String,
    /// Where the sticky key comes from.
    pub sticky_by: StickyBy,
    /// The arms, with positive total weight.
    pub variants: Vec<Variant>,
}

impl Experiment {
    /// The variant for a caller with `key`; `None` keys are assigned at random.
    pub fn assign(&self, key: Option<&str>) -> &Variant {
        let point = match key {
            Some(key) => unit_interval(fnv1a(self.name.as_bytes(), key.as_bytes())),
            None => fastrand::f64(),
        };
        let total: f64 = self.variants.iter().map(|v| v.weight.max(0.0)).sum();
        let mut ticket = point * total;
        for variant in &self.variants {
            let weight = variant.weight.max(0.0);
            if ticket < weight {
                return variant;
            }
            ticket -= weight;
        }
        // Rounding can leave the ticket a hair past the last weight.
        &self.variants[self.variants.len() - 1]
    }
}

/// FNV-1a over `name:key`: stable across processes, versions and platforms.
fn fnv1a(name: &[u8], key: &[u8]) -> u64 {
    name.iter()
        .chain(b":")
        .chain(key)
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// A hash mapped onto [0, 1) using its top 53 bits.
fn unit_interval(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(name: &str, weights: &[f64]) -> Experiment {
        Experiment {
            name: name.to_owned(),
            model: "summarizer".to_owned(),
            sticky_by: StickyBy::User,
            variants: weights
                .iter()
                .enumerate()
                .map(|(i, w)| Variant {
                    name: format!("v{i}"),
                    model: format!("group-{i}"),
                    weight: *w,
                })
                .collect(),
        }
    }

    #[test]
    fn a_caller_always_gets_the_same_variant() {
        let e = experiment("exp", &[1.0, 1.0, 1.0]);
        for user in ["alice", "bob", "carol", "dave"] {
            let first = e.assign(Some(user)).name.clone();
            for _ in 0..50 {
                assert_eq!(e.assign(Some(user)).name, first, "{user}");
            }
        }
    }

    #[test]
    fn assignment_is_a_pure_function_of_name_and_key() {
        // Pinned values (FNV-1a 64 of "exp:alice", computed independently): a change here would
        // move callers between variants across a deploy.
        assert_eq!(fnv1a(b"exp", b"alice"), 7_318_223_610_764_946_302);
        assert_ne!(fnv1a(b"exp", b"alice"), fnv1a(b"other", b"alice"));
    }

    #[test]
    fn callers_split_by_weight_within_tolerance() {
        let e = experiment("split", &[9.0, 1.0]);
        let n = 20_000;
        let control = (0..n)
            .filter(|i| e.assign(Some(&format!("user-{i}"))).name == "v0")
            .count();
        let share = control as f64 / n as f64;
        assert!((share - 0.9).abs() < 0.015, "control got {share}");
    }

    #[test]
    fn a_zero_weight_variant_gets_nobody() {
        let e = experiment("off", &[1.0, 0.0]);
        assert!((0..2_000).all(|i| e.assign(Some(&i.to_string())).name == "v0"));
    }
}
