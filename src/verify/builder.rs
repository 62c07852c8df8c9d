//! The secrets a [`Verifier`] accepts, each with a name and perhaps a
//! mode, and [`VerifierBuilder`], which gathers them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::receipt::ReceiptKey;
use super::{DEFAULT_TOLERANCE, Verifier};
use crate::mode::Mode;
use crate::secret::WebhookSecret;

/// One secret the verifier accepts, with its label.
#[derive(Clone)]
pub(super) struct Accepted {
    pub(super) secret: WebhookSecret,
    /// Shared with every [`Verified`](super::Verified) it produces: handing it on is an
    /// atomic increment, never an allocation.
    pub(super) binding: Arc<Binding>,
}

/// What a [`Verified`](super::Verified) says of the secret that verified it.
#[derive(Debug)]
pub(super) struct Binding {
    pub(super) name: SecretName,
    pub(super) mode: Option<Mode>,
    /// Derived once from the secret; each delivery it verifies holds it
    /// to make its receipt when stored.
    pub(super) receipt_key: Arc<ReceiptKey>,
}

impl Accepted {
    /// `secret`, named by its position (1-based) until named otherwise.
    fn new(secret: WebhookSecret, position: usize, mode: Option<Mode>) -> Self {
        Self {
            binding: Arc::new(Binding {
                name: SecretName::from(format!("secret-{position}")),
                mode,
                receipt_key: Arc::new(ReceiptKey::derive(&secret)),
            }),
            secret,
        }
    }

    fn set_name(&mut self, name: SecretName) {
        self.binding = Arc::new(Binding {
            name,
            mode: self.binding.mode.clone(),
            receipt_key: Arc::clone(&self.binding.receipt_key),
        });
    }

    fn set_mode(&mut self, mode: Mode) {
        self.binding = Arc::new(Binding {
            name: self.binding.name.clone(),
            mode: Some(mode),
            receipt_key: Arc::clone(&self.binding.receipt_key),
        });
    }
}

/// The name of an accepted secret: a label for logs and metrics, so that an
/// operator can see which secret verified each delivery, and when a secret
/// being rotated out stopped being used.
///
/// Set with [`VerifierBuilder::named`]; by default a secret is named by its
/// position: `secret-1` for the one given to [`Verifier::builder`],
/// `secret-2` for the next, and so on. A name is shown in logs and metrics:
/// never put a secret in it. Cheap to clone (a reference count).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(Arc<str>);

impl SecretName {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared text, for a metrics label without a copy.
    #[cfg(all(feature = "metrics", feature = "http"))]
    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretName {
    fn from(name: &str) -> Self {
        Self(Arc::from(name))
    }
}

impl From<String> for SecretName {
    fn from(name: String) -> Self {
        Self(Arc::from(name))
    }
}

impl From<Arc<str>> for SecretName {
    fn from(name: Arc<str>) -> Self {
        Self(name)
    }
}

impl PartialEq<str> for SecretName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SecretName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// Configures a [`Verifier`]. Start with [`Verifier::builder`].
///
/// Each accepted secret has a name (for logs and metrics) and may be bound
/// to a mode. [`named`](VerifierBuilder::named) and
/// [`for_mode`](VerifierBuilder::for_mode) apply to the secret added last.
///
/// Yoco gives each registration its own secret, and a test registration
/// sends test events. Bind each secret to the mode of its registration, so
/// that the test secret (the one on developers' laptops) cannot vouch for a
/// live event:
///
/// ```
/// use yoco_webhooks::{Mode, Verifier, WebhookSecret};
///
/// let live = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let test = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let verifier = Verifier::builder(live)
///     .named("live")
///     .for_mode(Mode::Live)
///     .also_accept_for(test, Mode::Test)
///     .named("test")
///     .build();
/// let names: Vec<String> = verifier.secrets().map(|(name, _)| name.to_string()).collect();
/// assert_eq!(names, ["live", "test"]);
/// # Ok::<(), yoco_webhooks::SecretError>(())
/// ```
///
/// Names are labels, not keys: two secrets may share one (both live
/// secrets during a rotation named `live`, say), but then the name does not
/// tell them apart. An unnamed secret is named by its position: `secret-1`,
/// `secret-2`, ...
#[derive(Clone)]
#[must_use]
pub struct VerifierBuilder {
    secrets: Vec<Accepted>,
    tolerance: Duration,
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&SecretName> = self.secrets.iter().map(|accepted| &accepted.binding.name).collect();
        f.debug_struct("VerifierBuilder")
            .field("secrets", &names)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl VerifierBuilder {
    /// A builder for `secret`: see [`Verifier::builder`].
    pub(super) fn new(secret: WebhookSecret) -> Self {
        Self {
            secrets: vec![Accepted::new(secret, 1, None)],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Accepts signatures made with `secret` too, for rotating secrets: while
    /// both are configured, a request signed with either one verifies. The
    /// secret is bound to no mode (it vouches for events of either mode)
    /// and named by its position (`secret-2` for the second, ...).
    pub fn also_accept(mut self, secret: WebhookSecret) -> Self {
        let position = self.secrets.len().saturating_add(1);
        self.secrets.push(Accepted::new(secret, position, None));
        self
    }

    /// Accepts signatures made with `secret` too, for events of `mode`
    /// only: [`Receiver`](crate::Receiver) refuses as not authentic
    /// ([`VerifyError::ModeMismatch`](super::VerifyError::ModeMismatch)) an event it verifies whose
    /// `payload.mode` is another, or absent. For the secret of a
    /// registration made with a test key, say.
    pub fn also_accept_for(self, secret: WebhookSecret, mode: Mode) -> Self {
        self.also_accept(secret).for_mode(mode)
    }

    /// Names the secret added last (the one given to
    /// [`Verifier::builder`], or to the last `also_accept`). The name is
    /// shown in logs and metrics ([`Verified::secret_name`](super::Verified::secret_name),
    /// [`Delivery::secret`](crate::Delivery::secret)): never put a secret in it.
    pub fn named(mut self, name: impl Into<SecretName>) -> Self {
        if let Some(last) = self.secrets.last_mut() {
            last.set_name(name.into());
        }
        self
    }

    /// Binds the secret added last to `mode`: it vouches only for events of
    /// that mode. See [`VerifierBuilder::also_accept_for`].
    pub fn for_mode(mut self, mode: Mode) -> Self {
        if let Some(last) = self.secrets.last_mut() {
            last.set_mode(mode);
        }
        self
    }

    /// How far the `webhook-timestamp` may be from `now`, in the past or the
    /// future (whole seconds; default [`DEFAULT_TOLERANCE`]). A longer
    /// tolerance widens the window in which a captured request can be
    /// replayed; keep it to minutes.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Builds the verifier.
    pub fn build(self) -> Verifier {
        Verifier {
            secrets: self.secrets,
            tolerance_secs: self.tolerance.as_secs(),
        }
    }
}
