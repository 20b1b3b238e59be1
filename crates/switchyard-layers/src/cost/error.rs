//! The ways a price list or a configured price can be wrong.

/// A price file that cannot be read into a [`PriceCatalog`](super::PriceCatalog).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The text is not JSON of the expected shape.
    #[error("the price file is not JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// The data file's columns are not the ones this version reads.
    #[error("the price file's columns are {found:?}, expected {expected:?}")]
    Columns {
        /// The columns the file names.
        found: Vec<String>,
        /// The columns this version reads.
        expected: &'static [&'static str],
    },
    /// The same model is listed twice.
    #[error("model `{0}` is listed twice")]
    Duplicate(String),
    /// One field of one model has a value that cannot be a price or a token count.
    #[error("model `{model}`: `{field}` is {found}, expected {expected}")]
    Field {
        /// The model's name.
        model: String,
        /// The field's name.
        field: &'static str,
        /// The value found, as JSON.
        found: String,
        /// What the field must hold.
        expected: &'static str,
    },
}

/// A configured price that is negative, infinite or not a number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` must be a non-negative number of US dollars per token, got {value}")]
pub struct InvalidPrice {
    /// The configuration key, as LiteLLM names it (`input_cost_per_token`, ...).
    pub field: &'static str,
    /// The value configured.
    pub value: f64,
}

/// Checks that `value` can be a price: finite and not negative.
pub(crate) fn check_price(field: &'static str, value: f64) -> Result<f64, InvalidPrice> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InvalidPrice { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_must_be_finite_and_not_negative() {
        assert_eq!(check_price("input_cost_per_token", 0.0), Ok(0.0));
        assert_eq!(check_price("input_cost_per_token", 3e-6), Ok(3e-6));
        for bad in [-1e-6, f64::NAN, f64::INFINITY] {
            let err = check_price("output_cost_per_token", bad).expect_err("rejected");
            assert_eq!(err.field, "output_cost_per_token");
            assert!(err.to_string().contains("non-negative"), "{err}");
        }
    }
}
