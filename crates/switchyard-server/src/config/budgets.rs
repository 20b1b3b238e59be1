//! How budgets are enforced, from `general_settings` and `litellm_settings`: what a budgeted call
//! gets while the budget counters cannot be reached (`budget_failure_policy`) or on a deployment
//! with no price (`budget_unpriced`), where the end user of a call is named
//! (`user_header_name`), the budget every end user has (`max_end_user_budget`), and the status
//! of a refusal over budget (`budget_exceeded_status_code`).

use http::{HeaderName, StatusCode};

use super::ConfigError;
use super::file::{GeneralSettings, LitellmSettings};

/// What a budgeted call gets while its counters cannot be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterFailure {
    /// Refused with 503: no budget is overspent while Redis (or the database) is down.
    #[default]
    Closed,
    /// Served while this replica's slice of what the budget had left lasts: what was left when
    /// the counters last answered, divided by the replicas alive then. Budgets this replica
    /// never saw are refused (503).
    LocalSlice,
}

impl CounterFailure {
    /// `closed` or `local_slice`, as configured and reported.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::LocalSlice => "local_slice",
        }
    }
}

/// What a budgeted call gets on a deployment with no price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unpriced {
    /// Refused with 400 before any upstream call.
    #[default]
    Refuse,
    /// Served; its cost is recorded as 0.
    Allow,
}

/// Validated budget settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BudgetSettings {
    /// `general_settings.budget_failure_policy`.
    pub on_counter_failure: CounterFailure,
    /// `general_settings.budget_unpriced`.
    pub unpriced: Unpriced,
    /// `general_settings.user_header_name`, lower-cased.
    pub end_user_header: Option<HeaderName>,
    /// `litellm_settings.max_end_user_budget`, US dollars per end user.
    pub max_end_user_budget: Option<f64>,
    /// `litellm_settings.budget_exceeded_status_code`: the status of a call refused over budget.
    pub exceeded_status: ExceededStatus,
}

/// The status of a call refused because a budget is spent: LiteLLM's default, 422 (since its
/// v1.104.0; <https://docs.litellm.ai/docs/proxy/budget_exceeded_errors>), or any 4xx the
/// operator names for clients written against older releases (429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceededStatus(pub StatusCode);

impl Default for ExceededStatus {
    fn default() -> Self {
        Self(StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// Reads the budget keys of `general` and `litellm`.
pub fn budget_settings(
    general: &GeneralSettings,
    litellm: &LitellmSettings,
) -> Result<BudgetSettings, ConfigError> {
    let on_counter_failure = match general.budget_failure_policy.as_deref() {
        None | Some("closed") => CounterFailure::Closed,
        Some("local_slice") => CounterFailure::LocalSlice,
        Some(other) => {
            return Err(ConfigError::invalid(
                "general_settings.budget_failure_policy",
                format!("must be `closed` or `local_slice`, not `{other}`"),
            ));
        }
    };
    let unpriced = match general.budget_unpriced.as_deref() {
        None | Some("refuse") => Unpriced::Refuse,
        Some("allow") => Unpriced::Allow,
        Some(other) => {
            return Err(ConfigError::invalid(
                "general_settings.budget_unpriced",
                format!("must be `refuse` or `allow`, not `{other}`"),
            ));
        }
    };
    let end_user_header = match &general.user_header_name {
        None => None,
        Some(name) => Some(HeaderName::try_from(name.trim()).map_err(|_| {
            ConfigError::invalid(
                "general_settings.user_header_name",
                format!("`{name}` is not a valid header name"),
            )
        })?),
    };
    let max_end_user_budget = match litellm.max_end_user_budget {
        Some(usd) if !(usd.is_finite() && usd >= 0.0) => {
            return Err(ConfigError::invalid(
                "litellm_settings.max_end_user_budget",
                "must be a number of US dollars, 0 or more",
            ));
        }
        other => other,
    };
    let exceeded_status = match litellm.budget_exceeded_status_code {
        None => ExceededStatus::default(),
        Some(code) => match StatusCode::from_u16(code) {
            Ok(status) if status.is_client_error() => ExceededStatus(status),
            _ => {
                return Err(ConfigError::invalid(
                    "litellm_settings.budget_exceeded_status_code",
                    format!("must be a 4xx status, such as 422 or 429, not {code}"),
                ));
            }
        },
    };
    Ok(BudgetSettings {
        on_counter_failure,
        unpriced,
        end_user_header,
        max_end_user_budget,
        exceeded_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fail_closed_and_refuse_unpriced() {
        let settings =
            budget_settings(&GeneralSettings::default(), &LitellmSettings::default()).expect("ok");
        assert_eq!(settings.on_counter_failure, CounterFailure::Closed);
        assert_eq!(settings.unpriced, Unpriced::Refuse);
        assert_eq!(settings.end_user_header, None);
        assert_eq!(settings.exceeded_status.0, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn the_refusal_status_is_any_client_error() {
        let litellm = |code| LitellmSettings {
            budget_exceeded_status_code: Some(code),
            ..LitellmSettings::default()
        };
        let settings = budget_settings(&GeneralSettings::default(), &litellm(429)).expect("ok");
        assert_eq!(settings.exceeded_status.0, StatusCode::TOO_MANY_REQUESTS);
        for bad in [200, 500, 99] {
            let err =
                budget_settings(&GeneralSettings::default(), &litellm(bad)).expect_err("refused");
            assert!(
                err.to_string().contains("budget_exceeded_status_code"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let general = GeneralSettings {
            budget_failure_policy: Some("maybe".to_owned()),
            ..GeneralSettings::default()
        };
        let err = budget_settings(&general, &LitellmSettings::default()).expect_err("refused");
        assert!(err.to_string().contains("budget_failure_policy"), "{err}");
        let litellm = LitellmSettings {
            max_end_user_budget: Some(-1.0),
            ..LitellmSettings::default()
        };
        let err = budget_settings(&GeneralSettings::default(), &litellm).expect_err("refused");
        assert!(err.to_string().contains("max_end_user_budget"), "{err}");
        let general = GeneralSettings {
            user_header_name: Some("X-OpenWebUI-User-Email".to_owned()),
            budget_unpriced: Some("allow".to_owned()),
            ..GeneralSettings::default()
        };
        let settings = budget_settings(&general, &LitellmSettings::default()).expect("ok");
        assert_eq!(
            settings.end_user_header.as_ref().map(HeaderName::as_str),
            Some("x-openwebui-user-email")
        );
        assert_eq!(settings.unpriced, Unpriced::Allow);
    }
}
