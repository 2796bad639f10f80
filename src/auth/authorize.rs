//! `Authorize<U>`: checks on the loaded user that the gate runs before the inner service.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::layer::BoxFuture;
use crate::AuthUser;

/// An answer: `Ok(value)`, or `Err(type name of the error)` when the store did not answer.
pub(crate) type Answered<T> = Result<T, &'static str>;

type Predicate<U> = Arc<dyn Fn(U) -> BoxFuture<Answered<bool>> + Send + Sync>;
pub(crate) type PermissionLoader<U> =
    Arc<dyn Fn(U) -> BoxFuture<Answered<Arc<HashSet<String>>>> + Send + Sync>;

/// A check on the logged-in user, run by the gate after the user is loaded (for session, Basic
/// and token logins alike): add one with
/// [`AuthLayerBuilder::authorize`](crate::AuthLayerBuilder::authorize).
///
/// A check is a [`predicate`](Self::predicate) (an async function of the user), a
/// [`permission`](Self::permission) (the user's permissions, loaded by the gate's
/// [`permission_loader`](crate::AuthLayerBuilder::permission_loader) at most once per request,
/// must hold it), or two checks joined with [`and`](Self::and) or [`or`](Self::or). Checks run
/// left to right and stop as soon as the answer is known.
///
/// A user who fails the check gets `403 Forbidden` ([`Reason::Forbidden`](crate::Reason::Forbidden));
/// a request with nobody logged in still gets the login redirect or `401`, as without a check.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{AuthLayer, AuthUser, Authorize};
///
/// #[derive(Clone)]
/// struct User { id: u64, admin: bool }
/// impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
/// # async fn load_user(id: u64) -> Option<User> { Some(User { id, admin: id == 1 }) }
///
/// let admins = Authorize::predicate(|user: User| async move { user.admin });
/// let editors = Authorize::permission("articles.edit");
/// let gate = AuthLayer::builder()
///     .user_loader(load_user)
///     .permission_loader(|user: User| async move {
///         // Read the user's permissions from your store.
///         let mut permissions = std::collections::HashSet::new();
///         if user.id == 2 {
///             permissions.insert("articles.edit".to_owned());
///         }
///         permissions
///     })
///     .authorize(admins.or(editors))
///     .build()?;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
pub struct Authorize<U> {
    node: Node<U>,
}

enum Node<U> {
    Predicate(Predicate<U>),
    Permission(Arc<str>),
    And(Arc<Node<U>>, Arc<Node<U>>),
    Or(Arc<Node<U>>, Arc<Node<U>>),
}

impl<U> Clone for Node<U> {
    fn clone(&self) -> Self {
        match self {
            Node::Predicate(p) => Node::Predicate(Arc::clone(p)),
            Node::Permission(p) => Node::Permission(Arc::clone(p)),
            Node::And(a, b) => Node::And(Arc::clone(a), Arc::clone(b)),
            Node::Or(a, b) => Node::Or(Arc::clone(a), Arc::clone(b)),
        }
    }
}

impl<U> Clone for Authorize<U> {
    fn clone(&self) -> Self {
        Authorize {
            node: self.node.clone(),
        }
    }
}

impl<U> fmt::Debug for Node<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Predicate(_) => f.write_str("predicate"),
            Node::Permission(p) => write!(f, "permission({p:?})"),
            Node::And(a, b) => write!(f, "({a:?} and {b:?})"),
            Node::Or(a, b) => write!(f, "({a:?} or {b:?})"),
        }
    }
}

impl<U> fmt::Debug for Authorize<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Authorize").field(&self.node).finish()
    }
}

impl<U: AuthUser> Authorize<U> {
    /// A check by an async function of the user: `true` lets the request through.
    ///
    /// The function gets a clone of the user. Its future may answer `bool`, or
    /// `Result<bool, E>` to report that a store could not answer: an `Err` is a `503`
    /// ([`Reason::Unavailable`](crate::Reason::Unavailable)), as for a user loader.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{AuthUser, Authorize};
    ///
    /// #[derive(Clone)]
    /// struct User { id: u64, admin: bool }
    /// impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    ///
    /// let admins = Authorize::predicate(|user: User| async move { user.admin });
    /// ```
    pub fn predicate<F, Fut>(check: F) -> Self
    where
        F: Fn(U) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: CheckOutcome<bool>,
    {
        Authorize {
            node: Node::Predicate(Arc::new(move |user| {
                let answer = check(user);
                Box::pin(async move { answer.await.into_answer() })
            })),
        }
    }

    /// A check that the user has `permission`, among those the gate's
    /// [`permission_loader`](crate::AuthLayerBuilder::permission_loader) returns for them.
    /// However many permission checks a gate has, the loader runs at most once per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{AuthUser, Authorize};
    /// # #[derive(Clone)] struct User { id: u64 }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    ///
    /// let can_publish = Authorize::<User>::permission("articles.edit")
    ///     .and(Authorize::permission("articles.publish"));
    /// ```
    pub fn permission(permission: impl Into<String>) -> Self {
        Authorize {
            node: Node::Permission(permission.into().into()),
        }
    }

    /// Both checks must pass; `other` runs only when this one passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{AuthUser, Authorize};
    /// # #[derive(Clone)] struct User { id: u64, admin: bool, active: bool }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    ///
    /// let active_admins = Authorize::predicate(|u: User| async move { u.admin })
    ///     .and(Authorize::predicate(|u: User| async move { u.active }));
    /// ```
    pub fn and(self, other: Authorize<U>) -> Self {
        Authorize {
            node: Node::And(Arc::new(self.node), Arc::new(other.node)),
        }
    }

    /// Either check must pass; `other` runs only when this one failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::{AuthUser, Authorize};
    /// # #[derive(Clone)] struct User { id: u64, admin: bool }
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { self.id } }
    ///
    /// let admins_or_editors = Authorize::predicate(|u: User| async move { u.admin })
    ///     .or(Authorize::permission("articles.edit"));
    /// ```
    pub fn or(self, other: Authorize<U>) -> Self {
        Authorize {
            node: Node::Or(Arc::new(self.node), Arc::new(other.node)),
        }
    }

    /// Whether the check names a permission (the gate then needs a permission loader).
    pub(crate) fn needs_permissions(&self) -> bool {
        fn walk<U>(node: &Node<U>) -> bool {
            match node {
                Node::Predicate(_) => false,
                Node::Permission(_) => true,
                Node::And(a, b) | Node::Or(a, b) => walk(a) || walk(b),
            }
        }
        walk(&self.node)
    }

    /// Runs the check on `user`: `Ok(true)` to let the request through, `Err` when a predicate or
    /// the permission loader could not answer.
    pub(crate) fn run(
        &self,
        user: U,
        loader: Option<PermissionLoader<U>>,
    ) -> BoxFuture<Answered<bool>> {
        let node = self.node.clone();
        Box::pin(async move {
            let mut permissions = Permissions {
                loader,
                loaded: None,
            };
            eval(&node, &user, &mut permissions).await
        })
    }
}

/// The user's permissions, loaded on the first permission check of a request.
struct Permissions<U> {
    loader: Option<PermissionLoader<U>>,
    loaded: Option<Arc<HashSet<String>>>,
}

impl<U: AuthUser> Permissions<U> {
    async fn has(&mut self, user: &U, permission: &str) -> Answered<bool> {
        if self.loaded.is_none() {
            let Some(loader) = &self.loader else {
                // `build` refuses a permission check without a loader.
                return Ok(false);
            };
            self.loaded = Some(loader(user.clone()).await?);
        }
        Ok(self
            .loaded
            .as_ref()
            .is_some_and(|set| set.contains(permission)))
    }
}

fn eval<'a, U: AuthUser>(
    node: &'a Node<U>,
    user: &'a U,
    permissions: &'a mut Permissions<U>,
) -> std::pin::Pin<Box<dyn Future<Output = Answered<bool>> + Send + 'a>> {
    Box::pin(async move {
        match node {
            Node::Predicate(check) => check(user.clone()).await,
            Node::Permission(p) => permissions.has(user, p).await,
            Node::And(a, b) => {
                Ok(eval(a, user, permissions).await? && eval(b, user, permissions).await?)
            }
            Node::Or(a, b) => {
                Ok(eval(a, user, permissions).await? || eval(b, user, permissions).await?)
            }
        }
    })
}

/// What a check ([`Authorize::predicate`]) or a permission loader
/// ([`permission_loader`](crate::AuthLayerBuilder::permission_loader)) may return from its
/// future: the answer (`bool`, or the set of the user's permissions), or a `Result` of it whose
/// `Err` says that the store could not answer. An `Err` is a `503`
/// ([`Reason::Unavailable`](crate::Reason::Unavailable)), logged by the error's type name only.
///
/// The trait is sealed: it cannot be implemented outside this crate.
pub trait CheckOutcome<T>: sealed::Sealed<T> + Send + 'static {}

impl CheckOutcome<bool> for bool {}
impl<E: std::error::Error + Send + Sync + 'static> CheckOutcome<bool> for Result<bool, E> {}
impl CheckOutcome<HashSet<String>> for HashSet<String> {}
impl<E: std::error::Error + Send + Sync + 'static> CheckOutcome<HashSet<String>>
    for Result<HashSet<String>, E>
{
}

pub(crate) mod sealed {
    /// The conversion behind [`CheckOutcome`](super::CheckOutcome), out of reach of other crates.
    #[allow(unreachable_pub)] // reachable as a supertrait, unnameable outside the crate
    pub trait Sealed<T> {
        fn into_answer(self) -> super::Answered<T>;
    }

    impl<T> Sealed<T> for T {
        fn into_answer(self) -> super::Answered<T> {
            Ok(self)
        }
    }

    impl<T, E: std::error::Error> Sealed<T> for Result<T, E> {
        fn into_answer(self) -> super::Answered<T> {
            self.map_err(|_| std::any::type_name::<E>())
        }
    }
}

use sealed::Sealed as _;

/// Turns a permission loader's future into the gate's form.
pub(crate) fn permission_loader<U, F, Fut>(loader: F) -> PermissionLoader<U>
where
    U: AuthUser,
    F: Fn(U) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: CheckOutcome<HashSet<String>>,
{
    Arc::new(move |user| {
        let answer = loader(user);
        Box::pin(async move { answer.await.into_answer().map(Arc::new) })
    })
}
