//! Microsoft Entra ID credentials of `azure/` deployments, from LiteLLM's `tenant_id`,
//! `client_id`, `client_secret` and `azure_scope`, or with
//! `litellm_settings.enable_azure_ad_token_refresh` from the environment
//! (<https://docs.litellm.ai/docs/providers/azure>): checked once at load, turned into token
//! sources by the adapter.

use switchyard_providers::credentials::BearerCredential;
use switchyard_providers::credentials::entra::{COGNITIVE_SERVICES_SCOPE, EntraCredential};

use super::{ConfigError, LitellmParams, optional_param};

/// The Entra ID credential of an Azure deployment, if it has one.
///
/// `tenant_id`, `client_id` and `client_secret` together are a service principal's client
/// credentials (one without the others is refused at its path). A deployment with no key
/// (`api_key`, `AZURE_API_KEY`) nor token (`azure_ad_token`) of its own, when
/// `enable_azure_ad_token_refresh` is on, takes `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
/// `AZURE_CLIENT_SECRET` from the environment, else the managed identity of where the gateway
/// runs (user-assigned when `client_id` or `AZURE_CLIENT_ID` names it).
pub(super) fn credential(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    has_key: bool,
    token_refresh: bool,
) -> Result<Option<BearerCredential>, ConfigError> {
    let param = |key: &str, value: Option<&str>| optional_param(path, key, value, env);
    let scope = param("azure_scope", params.azure_scope.as_deref())?
        .unwrap_or_else(|| COGNITIVE_SERVICES_SCOPE.to_owned());
    let tenant_id = param("tenant_id", params.tenant_id.as_deref())?;
    let client_id = param("client_id", params.client_id.as_deref())?;
    let client_secret = param(
        "client_secret",
        params.client_secret.as_ref().map(|s| s.0.as_str()),
    )?;
    let invalid =
        |key: &str, message: String| ConfigError::invalid(format!("{path}.{key}"), message);
    let client_secret_credential = |tenant: String, client: String, secret: String| {
        EntraCredential::client_secret(env, tenant, client, secret, scope.clone())
            .map(|c| Some(BearerCredential::Entra(c)))
            .map_err(|e| invalid("tenant_id", e.to_string()))
    };
    match (tenant_id, client_id.clone(), client_secret) {
        (Some(tenant), Some(client), Some(secret)) => {
            return client_secret_credential(tenant, client, secret);
        }
        (None, _, None) => {}
        (tenant, client, secret) => {
            let missing = [
                ("tenant_id", tenant.is_none()),
                ("client_id", client.is_none()),
                ("client_secret", secret.is_none()),
            ]
            .into_iter()
            .find(|(_, missing)| *missing)
            .map(|(key, _)| key)
            .unwrap_or("tenant_id");
            return Err(invalid(
                missing,
                "Entra ID client credentials need tenant_id, client_id and client_secret together"
                    .to_owned(),
            ));
        }
    }
    if has_key || params.azure_ad_token.is_some() || !token_refresh {
        if client_id.is_some() && !token_refresh {
            return Err(invalid(
                "client_id",
                "a client_id alone names a managed identity, which needs \
                 litellm_settings.enable_azure_ad_token_refresh (or give tenant_id and \
                 client_secret for client credentials)"
                    .to_owned(),
            ));
        }
        return Ok(None);
    }
    let from_env = |name: &str| env(name).filter(|v| !v.is_empty());
    if let (Some(tenant), Some(client), Some(secret)) = (
        from_env("AZURE_TENANT_ID"),
        from_env("AZURE_CLIENT_ID"),
        from_env("AZURE_CLIENT_SECRET"),
    ) {
        return client_secret_credential(tenant, client, secret);
    }
    let identity = client_id.or_else(|| from_env("AZURE_CLIENT_ID"));
    EntraCredential::managed_identity(env, identity, &scope)
        .map(|c| Some(BearerCredential::Entra(c)))
        .map_err(|e| invalid("client_id", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;
    use super::super::ProviderSettings;
    use super::*;

    fn azure(
        params: &str,
        settings: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<BearerCredential>, ConfigError> {
        let text = format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{model: azure/dep, api_base: 'https://x.openai.azure.com', {params}}}\n{settings}"
        );
        let mut loaded = parse_with_env(&text, env)?;
        match loaded.settings.deployments.remove(0).provider {
            ProviderSettings::OpenAi(openai) => Ok(openai.bearer),
            other => panic!("azure expected: {other:?}"),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    // Keys: https://docs.litellm.ai/docs/providers/azure (tenant_id, client_id, client_secret,
    // azure_scope; enable_azure_ad_token_refresh).
    #[test]
    fn client_credentials_are_taken_together_and_their_secret_stays_hidden() {
        let bearer = azure(
            "tenant_id: contoso.onmicrosoft.com, client_id: app-1, client_secret: os.environ/SECRET",
            "",
            &|name: &str| (name == "SECRET").then(|| "entra-secret".to_owned()),
        )
        .expect("valid")
        .expect("a credential");
        let shown = format!("{bearer:?}");
        assert!(
            shown.contains("app-1") && shown.contains("contoso.onmicrosoft.com"),
            "{shown}"
        );
        assert!(!shown.contains("entra-secret"), "{shown}");
        let err = azure("tenant_id: t, client_id: c", "", &no_env).expect_err("no secret");
        assert!(
            err.to_string().contains("litellm_params.client_secret"),
            "{err}"
        );
        let err = azure("client_id: c", "", &no_env).expect_err("no token refresh");
        assert!(
            err.to_string().contains("enable_azure_ad_token_refresh"),
            "{err}"
        );
        assert!(azure("api_key: k", "", &no_env).expect("valid").is_none());
    }

    #[test]
    fn token_refresh_takes_the_environment_then_the_managed_identity() {
        let refresh = "litellm_settings: {enable_azure_ad_token_refresh: true}\n";
        let env = |name: &str| match name {
            "AZURE_TENANT_ID" => Some("tenant-env".to_owned()),
            "AZURE_CLIENT_ID" => Some("client-env".to_owned()),
            "AZURE_CLIENT_SECRET" => Some("secret-env".to_owned()),
            _ => None,
        };
        let shown = format!("{:?}", azure("timeout: 5", refresh, &env).expect("valid"));
        assert!(
            shown.contains("client-env") && shown.contains("tenant-env"),
            "{shown}"
        );
        let shown = format!(
            "{:?}",
            azure("timeout: 5", refresh, &no_env).expect("valid")
        );
        assert!(
            shown.contains("system-assigned managed identity"),
            "{shown}"
        );
        let shown = format!(
            "{:?}",
            azure("client_id: mi-1", refresh, &no_env).expect("valid")
        );
        assert!(
            shown.contains("user-assigned managed identity `mi-1`"),
            "{shown}"
        );
        assert!(
            azure("api_key: k", refresh, &env).expect("valid").is_none(),
            "a key of its own wins"
        );
    }
}
