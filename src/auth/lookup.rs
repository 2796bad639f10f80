//! `UserLookup`: what a user loader or a credential verifier may answer.

/// What a user loader ([`user_loader`](crate::AuthLayerBuilder::user_loader)) or a credential
/// verifier ([`basic`](crate::AuthLayerBuilder::basic), [`bearer`](crate::AuthLayerBuilder::bearer))
/// may return from its future. Implemented for exactly two types:
///
/// - `Option<U>`: `Some(user)`, or `None` for "no such user" (or, for a verifier, "refused");
/// - `Result<Option<U>, E>` with `E: std::error::Error + Send + Sync + 'static`: the same, and
///   `Err(e)` when the store could not answer (a database that is down, a timeout).
///
/// An `Err` is not a logout: the gate answers `503 Service Unavailable` with `Retry-After` (or
/// calls the [`unauthorized`](crate::AuthLayerBuilder::unauthorized) hook with
/// [`Reason::Unavailable`](crate::Reason::Unavailable)), and leaves the session and the
/// remember-me cookie exactly as they were: the response carries no `Set-Cookie`. `None` logs a
/// session login out and deletes its remember-me cookie, so answer `None` only when the user is
/// really gone.
///
/// The error is logged at `warn` by its type name only, never by its message (which may quote
/// a connection string or a query), and never reaches the response. Log the details yourself
/// before returning it if you need them.
///
/// The trait is sealed: it cannot be implemented outside this crate.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{AuthLayer, AuthUser};
///
/// #[derive(Clone)]
/// struct User { id: u64 }
///
/// impl AuthUser for User {
///     type Id = u64;
///     fn id(&self) -> u64 { self.id }
/// }
///
/// # #[derive(Debug)] struct DbError;
/// # impl std::fmt::Display for DbError {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("db") }
/// # }
/// # impl std::error::Error for DbError {}
/// async fn find_user(id: u64) -> Result<Option<User>, DbError> {
///     // `Ok(None)`: no such user (logged out); `Err(_)`: the store did not answer (503).
///     Ok((id == 1).then(|| User { id }))
/// }
///
/// // A loader that can fail...
/// let gate = AuthLayer::builder().user_loader(find_user).build()?;
/// // ...and one that cannot.
/// let gate = AuthLayer::builder()
///     .user_loader(|id: u64| async move { (id == 1).then(|| User { id }) })
///     .build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
pub trait UserLookup<U>: sealed::Sealed<U> + Send + 'static {}

impl<U: Send + 'static> UserLookup<U> for Option<U> {}

impl<U, E> UserLookup<U> for Result<Option<U>, E>
where
    U: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
}

/// A loader's answer as the gate uses it: `Err` holds the error's type name, all that is logged.
pub(crate) type Looked<U> = Result<Option<U>, &'static str>;

pub(crate) fn settle<U, L: UserLookup<U>>(lookup: L) -> Looked<U> {
    sealed::Sealed::into_looked(lookup)
}

mod sealed {
    /// The conversion behind [`UserLookup`](super::UserLookup), out of reach of other crates.
    #[allow(unreachable_pub)] // reachable as a supertrait, unnameable outside the crate
    pub trait Sealed<U> {
        fn into_looked(self) -> super::Looked<U>;
    }

    impl<U> Sealed<U> for Option<U> {
        fn into_looked(self) -> super::Looked<U> {
            Ok(self)
        }
    }

    impl<U, E: std::error::Error> Sealed<U> for Result<Option<U>, E> {
        fn into_looked(self) -> super::Looked<U> {
            self.map_err(|_| std::any::type_name::<E>())
        }
    }
}
