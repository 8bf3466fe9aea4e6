//! [`RetrainRegistry`]: retrains an architecture document of any registered space, the
//! user's own included.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use burn::tensor::Device;
use burn_nas_space::{ArchError, Architecture};

use crate::error::Result;
use crate::factory::ChildFactory;
use crate::retrain::{RetrainReport, retrain};
use crate::state::module_to_bytes;
use crate::task::Task;
use crate::train::{EpochStats, TrainConfig};

/// One architecture retrained from its JSON document.
#[derive(Debug, Clone)]
pub struct Retrained {
    /// The document's space tag.
    pub space: String,
    /// The architecture's JSON document, as read (validated, re-serialised).
    pub arch_json: String,
    /// Its Graphviz DOT drawing.
    pub arch_dot: String,
    /// What retraining measured.
    pub report: RetrainReport,
    /// The trained network's weights (a burnpack, as `module_to_bytes` writes them).
    pub weights: Vec<u8>,
}

/// What the registry keeps per space: a child factory that knows the architecture type.
trait Entry {
    fn retrain(
        &self,
        text: &str,
        task: &Task,
        training: &TrainConfig,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochStats),
    ) -> Result<Retrained>;
}

struct Registered<A, F> {
    factory: F,
    arch: PhantomData<fn() -> A>,
}

impl<A: Architecture, F: ChildFactory<A>> Entry for Registered<A, F> {
    fn retrain(
        &self,
        text: &str,
        task: &Task,
        training: &TrainConfig,
        device: &Device,
        on_epoch: &mut dyn FnMut(&EpochStats),
    ) -> Result<Retrained> {
        let arch = A::from_json(text)?;
        let (net, report) = retrain(&self.factory, &arch, task, training, device, None, |e| {
            on_epoch(e)
        })?;
        Ok(Retrained {
            space: A::SPACE.to_string(),
            arch_json: arch.to_json(),
            arch_dot: arch.to_dot(),
            report,
            weights: module_to_bytes(&net)?,
        })
    }
}

/// Child factories by space tag: reads an architecture document (`best_arch.json`) of any
/// registered space and retrains it with that space's factory. A space defined outside the
/// library enters by registering its factory, like the built-in ones.
///
/// ```
/// use burn_nas_estimator::{MacroChild, NasRlChild, RetrainRegistry};
/// use burn_nas_nn::{MacroNetConfig, NasRlNetConfig};
///
/// let mut registry = RetrainRegistry::new();
/// registry.register(MacroChild(MacroNetConfig::new(10)))?;
/// registry.register(NasRlChild(NasRlNetConfig::new(10)))?;
/// assert_eq!(registry.spaces(), ["enas_macro", "nas_rl"]);
/// // A space is registered once.
/// assert!(registry.register(NasRlChild(NasRlNetConfig::new(10))).is_err());
/// # Ok::<(), burn_nas_estimator::EstimatorError>(())
/// ```
#[derive(Default)]
pub struct RetrainRegistry {
    entries: BTreeMap<&'static str, Box<dyn Entry>>,
}

impl std::fmt::Debug for RetrainRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrainRegistry")
            .field("spaces", &self.spaces())
            .finish()
    }
}

impl RetrainRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` for the architectures of type `A` (tag `A::SPACE`).
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] (as an estimator error) when the tag is already registered.
    pub fn register<A, F>(&mut self, factory: F) -> Result<&mut Self>
    where
        A: Architecture + 'static,
        F: ChildFactory<A> + 'static,
    {
        if self.entries.contains_key(A::SPACE) {
            return Err(ArchError::InvalidSpace {
                field: "space".into(),
                reason: format!("`{}` is already registered", A::SPACE),
            }
            .into());
        }
        self.entries.insert(
            A::SPACE,
            Box::new(Registered::<A, F> {
                factory,
                arch: PhantomData,
            }),
        );
        Ok(self)
    }

    /// The registered space tags, sorted.
    pub fn spaces(&self) -> Vec<&'static str> {
        self.entries.keys().copied().collect()
    }

    /// Reads the architecture document `text`, picks the factory registered for its space
    /// and retrains it (see [`retrain`](crate::retrain)); `on_epoch` sees every epoch.
    ///
    /// # Errors
    /// A malformed document, [`ArchError::WrongSpace`] naming the registered spaces when its
    /// space is not one of them, and whatever retraining reports.
    pub fn retrain_json(
        &self,
        text: &str,
        task: &Task,
        training: &TrainConfig,
        device: &Device,
        mut on_epoch: impl FnMut(&EpochStats),
    ) -> Result<Retrained> {
        let space = burn_nas_space::space_of(text)?;
        let entry = self
            .entries
            .get(space.as_str())
            .ok_or_else(|| ArchError::WrongSpace {
                expected: self.spaces().join("` or `"),
                found: space,
            })?;
        entry.retrain(text, task, training, device, &mut on_epoch)
    }
}
