"""Open banking: an authorisation server to the FAPI 2.0 security profile, consents, account
and payment APIs for third-party apps, an app store, signed webhooks (issue 18). The face is
filled as the engine is built."""

__all__: list[str] = []
