//! Virtual key secrets: generating them from the OS RNG, and [`KeyHash`], the SHA-256 that is all
//! a store ever keeps of a secret. Hashes compare in constant time and print only a prefix.

use std::fmt;
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a generated secret (256 bits).
const SECRET_BYTES: usize = 32;
/// Random bytes in a public key id (64 bits: no collisions at any realistic key count).
const ID_BYTES: usize = 8;

/// The OS random number generator failed, so no key or id could be made.
#[derive(Debug, thiserror::Error)]
#[error("the OS random number generator failed: {0}")]
pub struct RandomnessError(getrandom::Error);

/// A new virtual key: the secret to hand to its owner once, and the hash to store.
///
/// The secret is `sk-` followed by 32 random bytes from the OS RNG in unpadded base64url
/// (46 characters in all).
///
/// ```
/// let (secret, hash) = switchyard_store::generate_key()?;
/// assert!(secret.starts_with("sk-"));
/// assert_eq!(switchyard_store::hash_key(&secret), hash);
/// # Ok::<(), switchyard_store::RandomnessError>(())
/// ```
pub fn generate_key() -> Result<(String, KeyHash), RandomnessError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(RandomnessError)?;
    let secret = format!("sk-{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_key(&secret);
    Ok((secret, hash))
}

/// A new public key id, `key-` and 16 hex digits, safe to show and log.
///
/// Random rather than taken from the secret, so that knowing an id helps no one guess or
/// confirm a secret, even a weak one an operator chose by hand.
pub fn new_key_id() -> Result<String, RandomnessError> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes).map_err(RandomnessError)?;
    Ok(format!("key-{}", to_hex(&bytes)))
}

/// A secret abbreviated for display: `sk-...` and its last four characters, as LiteLLM shows a
/// key (its `key_name`). Four characters of 46 random ones tell nothing about the rest.
pub fn abbreviate_key(secret: &str) -> String {
    let tail: String = {
        let mut last: Vec<char> = secret.chars().rev().take(4).collect();
        last.reverse();
        last.into_iter().collect()
    };
    format!("sk-...{tail}")
}

/// The SHA-256 of a secret, the form in which stores keep and look up keys. The same as
/// LiteLLM's hashed tokens (hex SHA-256 of the whole `sk-…` string).
pub fn hash_key(secret: &str) -> KeyHash {
    KeyHash(Sha256::digest(secret.as_bytes()).into())
}

/// The SHA-256 of a virtual key's secret.
///
/// Equality is constant-time, and `Debug` shows only the first 8 hex digits. Serialized as 64
/// lowercase hex digits.
#[derive(Clone, Copy)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Parses 64 hex digits (either case).
    pub fn from_hex(hex: &str) -> Result<Self, ParseKeyHashError> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return Err(ParseKeyHashError);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Self(bytes))
    }

    /// The 64 lowercase hex digits, as stored.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for KeyHash {}

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", to_hex(&self.0[..4]))
    }
}

impl Serialize for KeyHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let hex = String::deserialize(deserializer)?;
        Self::from_hex(&hex).map_err(serde::de::Error::custom)
    }
}

/// A key hash that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key hash is 64 hex digits")]
pub struct ParseKeyHashError;

fn nibble(digit: u8) -> Result<u8, ParseKeyHashError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(ParseKeyHashError),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_sha256_of_the_whole_secret() {
        // `printf 'sk-1234' | sha256sum`
        assert_eq!(
            hash_key("sk-1234").to_hex(),
            "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
        );
    }

    #[test]
    fn abbreviations_keep_the_last_four_characters_only() {
        // LiteLLM's `key_name`: https://docs.litellm.ai/docs/proxy/virtual_keys (`"sk-...7sFA"`).
        assert_eq!(abbreviate_key("sk-kdEXbIqZRwEeEiHwdg7sFA"), "sk-...7sFA");
        assert_eq!(abbreviate_key("ab"), "sk-...ab");
    }

    #[test]
    fn generated_secrets_are_long_random_and_hash_to_their_hash() {
        let (a, hash_a) = generate_key().expect("OS RNG");
        let (b, hash_b) = generate_key().expect("OS RNG");
        assert!(a.starts_with("sk-"));
        assert_eq!(a.len(), 3 + 43);
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_ne!(hash_a, hash_b);
        assert_eq!(hash_key(&a), hash_a);
    }

    #[test]
    fn ids_are_short_and_distinct() {
        let a = new_key_id().expect("OS RNG");
        assert!(a.starts_with("key-") && a.len() == 20, "{a}");
        assert_ne!(a, new_key_id().expect("OS RNG"));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let hash = hash_key("sk-test");
        assert_eq!(KeyHash::from_hex(&hash.to_hex()), Ok(hash));
        assert_eq!(KeyHash::from_hex(&hash.to_hex().to_uppercase()), Ok(hash));
        assert_eq!(KeyHash::from_hex("abc"), Err(ParseKeyHashError));
        assert_eq!(KeyHash::from_hex(&"g".repeat(64)), Err(ParseKeyHashError));
        let json = serde_json::to_string(&hash).expect("serializes");
        assert_eq!(json, format!("\"{}\"", hash.to_hex()));
        assert_eq!(
            serde_json::from_str::<KeyHash>(&json).expect("deserializes"),
            hash
        );
    }

    #[test]
    fn debug_shows_only_a_prefix() {
        let hash = hash_key("sk-test");
        let debug = format!("{hash:?}");
        assert_eq!(debug, format!("KeyHash({}…)", &hash.to_hex()[..8]));
    }
}
