//! [`WeightInheritance`]: a child proposed as a mutation of an evaluated parent starts from the
//! parent's weights: carried over function-preservingly when the child factory knows the
//! morphism between them ([`ChildFactory::transfer`]), else copied wherever path and shape fit.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn_nas_nn::{ParamValues, export_params, import_params};
use burn_nas_space::Architecture;

use crate::curve::EpochwiseEstimator;
use crate::error::{EstimatorError, Result};
use crate::estimate::{BatchObserver, Estimate, Estimator};
use crate::factory::ChildFactory;
use crate::from_scratch::{Job, TrainFromScratch};
use crate::reward::Objective;
use crate::state::{EstimatorState, module_from_bytes, module_to_bytes};
use crate::train::{Control, EpochStats};

/// Copies every parameter (and batch-norm statistic) of `parent` into `child` whose path and
/// shape match; returns the child and (copied, total) parameter tensors.
pub fn inherit_weights<M: Module, P: Module>(parent: &P, child: M) -> (M, usize, usize) {
    let (child, report) = import_params(child, &export_params(parent));
    (child, report.copied, report.copied + report.kept.len())
}

/// Train-from-scratch estimation where a mutated child inherits its parent's trained weights:
/// through the child factory's function-preserving transfer when the child is a network
/// morphism of the parent (NAS-RL children: [`ChildFactory::transfer`]), else for every
/// parameter whose path and shape match, the rest initialised fresh. Trained networks
/// of the last `capacity` estimated architectures are kept (in memory, without autodiff) so
/// that their children can inherit from them.
///
/// ```
/// use std::sync::atomic::AtomicBool;
///
/// use burn::tensor::Device;
/// use burn_nas_data::{Augmentation, fashion_mnist};
/// use burn_nas_estimator::{
///     CosineWarmRestarts, Estimator, Fidelity, NasRlChild, Task, TrainConfig, TrainFromScratch,
///     WeightInheritance,
/// };
/// use burn_nas_nn::NasRlNetConfig;
/// use burn_nas_space::{NasRlArch, NasRlLayer};
///
/// // 200 training and 100 validation images of the embedded Fashion-MNIST subset, 14×14.
/// let (train, _) = fashion_mnist::load_embedded()?;
/// let train = train.subset(&(0..300).collect::<Vec<_>>())?;
/// let task = Task::split(train, 100, None)?.reduced(1.0, Some(14), 0)?;
/// let net = NasRlNetConfig::new(task.classes()).with_image_size(task.image_size());
/// let training = TrainConfig {
///     epochs: 1,
///     batch_size: 50,
///     lr: CosineWarmRestarts::single(0.05, 0.005, 1),
///     augmentation: Augmentation::none(),
///     ..TrainConfig::default()
/// };
/// let from_scratch =
///     TrainFromScratch::new(NasRlChild(net), &task, Fidelity::full(1), training, Device::flex())?;
/// let mut estimator = WeightInheritance::new(from_scratch, 8);
///
/// let parent = NasRlArch {
///     layers: vec![NasRlLayer::square(3, 8, 1, vec![]), NasRlLayer::square(3, 8, 2, vec![0])],
/// };
/// let mut child = parent.clone();
/// child.layers[1].filters = 12; // the parent with a wider second layer
/// let stop = AtomicBool::new(false);
/// let parent_estimate = estimator.estimate_many(&[(&parent, None)], &stop)?;
/// let child_estimate = estimator.estimate_many(&[(&child, Some(&parent))], &stop)?;
/// assert!(!parent_estimate[0].metrics.training.as_ref().unwrap().inherited);
/// assert!(child_estimate[0].metrics.training.as_ref().unwrap().inherited); // warm-started
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WeightInheritance<F: ChildFactory<A>, A> {
    inner: TrainFromScratch<F>,
    store: HashMap<String, F::Net>,
    order: VecDeque<String>,
    capacity: usize,
}

impl<A: Architecture, F: ChildFactory<A>> WeightInheritance<F, A> {
    /// Wraps a train-from-scratch estimator, keeping the networks of the last `capacity`
    /// architectures (e.g. the evolution population size).
    pub fn new(inner: TrainFromScratch<F>, capacity: usize) -> Self {
        WeightInheritance {
            inner,
            store: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Number of trained networks kept for inheritance.
    pub fn stored(&self) -> usize {
        self.store.len()
    }

    /// What a child of `parent` (whose trained network is `net`) starts from.
    fn inherited(&self, parent: &A, child: &A, net: &F::Net) -> ParamValues {
        let params = export_params(net);
        // The transfer's random choices (which filters a widening copies) follow the child.
        let seed = child
            .to_json()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        match self.inner.transfer(parent, child, &params, seed) {
            Some(morphed) => morphed,
            None => params,
        }
    }

    fn keep(&mut self, key: String, net: F::Net) {
        if self.store.insert(key.clone(), net).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.store.remove(&old);
            }
        }
    }
}

impl<A: Architecture + Sync, F: ChildFactory<A> + Sync> Estimator<A> for WeightInheritance<F, A>
where
    F::Net: Send,
{
    fn estimate(&mut self, arch: &A) -> Result<Estimate> {
        self.estimate_watched(arch, None, &mut |_| Control::Continue)
    }

    fn estimate_child(&mut self, arch: &A, parent: Option<&A>) -> Result<Estimate> {
        self.estimate_watched(arch, parent, &mut |_| Control::Continue)
    }

    /// Concurrently on the inner estimator's pool, if it has one. A child whose parent is an
    /// earlier child of the same group waits for it (the group is split there), so every child
    /// inherits exactly what it would in a sequential run.
    fn estimate_many(
        &mut self,
        children: &[(&A, Option<&A>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        self.estimate_many_watched(children, &|_| Control::Continue, stop)
    }

    /// The inner estimator's pool size.
    fn parallelism(&self) -> usize {
        Estimator::<A>::parallelism(&self.inner)
    }

    fn name(&self) -> &'static str {
        "weight-inheritance"
    }

    /// The inner estimator's counter, and every kept network (`parent-{i}.bpk`, oldest first)
    /// with its architecture.
    fn save_state(&self) -> Result<EstimatorState> {
        let inner = Estimator::<A>::save_state(&self.inner)?;
        let mut state = EstimatorState::default();
        for (i, key) in self.order.iter().enumerate() {
            if let Some(net) = self.store.get(key) {
                state
                    .blobs
                    .insert(format!("parent-{i}.bpk"), module_to_bytes(net)?);
            }
        }
        state.json = serde_json::json!({ "inner": inner.json, "kept": self.order });
        Ok(state)
    }

    fn load_state(&mut self, state: &EstimatorState) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Saved {
            inner: serde_json::Value,
            kept: Vec<String>,
        }
        let saved: Saved = state.parse("weight-inheritance state")?;
        let mut store = HashMap::new();
        let device = self.inner.device().clone();
        for (i, key) in saved.kept.iter().enumerate() {
            let arch = A::from_json(key).map_err(|e| {
                EstimatorError::State(format!("kept architecture {i} does not parse: {e}"))
            })?;
            let net = self.inner.build(&arch, &device)?;
            let net = module_from_bytes(net, state.blob(&format!("parent-{i}.bpk"))?)?;
            store.insert(key.clone(), net);
        }
        Estimator::<A>::load_state(&mut self.inner, &EstimatorState::json(&saved.inner)?)?;
        self.store = store;
        self.order = saved.kept.into_iter().collect();
        Ok(())
    }

    fn set_batch_observer(&mut self, observer: Option<Arc<dyn BatchObserver>>) {
        Estimator::<A>::set_batch_observer(&mut self.inner, observer);
    }
}

impl<A: Architecture + Sync, F: ChildFactory<A> + Sync> EpochwiseEstimator<A>
    for WeightInheritance<F, A>
where
    F::Net: Send,
{
    fn planned_epochs(&self) -> usize {
        self.inner.fidelity().epochs
    }

    fn objective(&self) -> &Objective {
        self.inner.objective()
    }

    fn estimate_watched(
        &mut self,
        arch: &A,
        parent: Option<&A>,
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    ) -> Result<Estimate> {
        let inherit = parent.and_then(|p| {
            let net = self.store.get(&p.to_json())?;
            Some(self.inherited(p, arch, net))
        });
        let (estimate, net) = self.inner.run(arch, inherit.as_ref(), on_epoch)?;
        self.keep(arch.to_json(), net.valid());
        Ok(estimate)
    }

    fn estimate_many_watched(
        &mut self,
        children: &[(&A, Option<&A>)],
        on_epoch: &(dyn Fn(&[EpochStats]) -> Control + Sync),
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        let mut out = Vec::with_capacity(children.len());
        let mut start = 0;
        while start < children.len() {
            // A wave: children up to the first whose parent is an earlier child of the wave.
            let mut end = start;
            let mut keys = HashSet::new();
            while let Some((arch, parent)) = children.get(end) {
                if parent.is_some_and(|p| keys.contains(&p.to_json())) {
                    break;
                }
                keys.insert(arch.to_json());
                end += 1;
            }
            // Which parents a sequential run would still keep at each child's turn.
            let mut order = self.order.clone();
            let mut jobs = Vec::with_capacity(end - start);
            for (arch, parent) in &children[start..end] {
                let inherit = parent.and_then(|p| {
                    let key = p.to_json();
                    let net = self.store.get(&key).filter(|_| order.contains(&key))?;
                    Some(self.inherited(p, arch, net))
                });
                jobs.push(Job {
                    arch: *arch,
                    inherit,
                });
                let key = arch.to_json();
                if !order.contains(&key) {
                    order.push_back(key);
                }
                while order.len() > self.capacity {
                    order.pop_front();
                }
            }
            let done = self.inner.run_many(jobs, on_epoch, stop)?;
            for ((arch, _), (estimate, net)) in children[start..end].iter().zip(done) {
                self.keep(arch.to_json(), net.valid());
                out.push(estimate);
            }
            start = end;
        }
        Ok(out)
    }
}

impl<A: Sync, F: ChildFactory<A> + Sync> EpochwiseEstimator<A> for TrainFromScratch<F>
where
    F::Net: Send,
{
    fn planned_epochs(&self) -> usize {
        self.fidelity().epochs
    }

    fn objective(&self) -> &Objective {
        TrainFromScratch::objective(self)
    }

    fn estimate_watched(
        &mut self,
        arch: &A,
        _parent: Option<&A>,
        on_epoch: &mut dyn FnMut(&EpochStats) -> Control,
    ) -> Result<Estimate> {
        Ok(self.run(arch, None, on_epoch)?.0)
    }

    fn estimate_many_watched(
        &mut self,
        children: &[(&A, Option<&A>)],
        on_epoch: &(dyn Fn(&[EpochStats]) -> Control + Sync),
        stop: &AtomicBool,
    ) -> Result<Vec<Estimate>> {
        let jobs = children
            .iter()
            .map(|(arch, _)| Job {
                arch: *arch,
                inherit: None,
            })
            .collect();
        Ok(self
            .run_many(jobs, on_epoch, stop)?
            .into_iter()
            .map(|(estimate, _)| estimate)
            .collect())
    }
}
