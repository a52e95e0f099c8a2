"""Sign-in: users with argon2 passwords, JWT access tokens with rotating refresh tokens, API keys,
a login lockout, and the authenticator every route's `CurrentUser` goes through."""
