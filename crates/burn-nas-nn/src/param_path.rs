//! [`ParamPath`]: the one way burn-nas names a parameter (`cells.3.ops.5.Sep.first.bn.gamma`),
//! and [`visit_with_paths`] / [`map_with_paths`], burn's module visitor and mapper told each
//! parameter's path.

use std::fmt;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Names of the batch-norm buffers that burn visits like parameters but nobody trains.
const RUNNING_STATS: [&str; 2] = ["running_mean", "running_var"];

/// Where a parameter sits in its module tree: the field names (and list indices, and enum
/// variants) from the root, `.`-joined in [`key`](Self::key). Weight inheritance, saved
/// controller and optimizer state and the parameter counts all key parameters by it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParamPath(Vec<String>);

impl ParamPath {
    /// The path as one string, `cells.3.ops.5.Sep.first.bn.gamma`.
    pub fn key(&self) -> String {
        self.0.join(".")
    }

    /// The last segment: the parameter's own field name (`gamma`, `weight`).
    pub fn name(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// Whether this is a batch-norm running statistic (`running_mean`, `running_var`): a
    /// buffer burn visits like a parameter but that no optimizer trains.
    pub fn is_running_stat(&self) -> bool {
        self.name()
            .is_some_and(|name| RUNNING_STATS.contains(&name))
    }
}

impl fmt::Display for ParamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A visitor of a module's float parameters that is told each one's [`ParamPath`]; run it with
/// [`visit_with_paths`].
pub trait PathVisitor {
    /// Called once per float parameter (batch-norm running statistics included).
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>);
}

/// A mapper of a module's float parameters that is told each one's [`ParamPath`]; run it with
/// [`map_with_paths`].
pub trait PathMapper {
    /// Called once per float parameter (batch-norm running statistics included); returns its
    /// replacement.
    fn map<const D: usize>(
        &mut self,
        path: &ParamPath,
        param: Param<Tensor<D>>,
    ) -> Param<Tensor<D>>;
}

/// burn's visitor protocol, keeping the path for a [`PathVisitor`] or [`PathMapper`].
struct Tracked<V> {
    path: ParamPath,
    inner: V,
}

impl<V: PathVisitor> ModuleVisitor for Tracked<V> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.0.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.0.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.inner.visit(&self.path, param);
    }
}

impl<V: PathMapper> ModuleMapper for Tracked<V> {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.0.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.0.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.inner.map(&self.path, param)
    }
}

/// Visits every float parameter of `module` with its path.
///
/// ```
/// use burn::module::Param;
/// use burn::nn::LinearConfig;
/// use burn::tensor::{Device, Tensor};
/// use burn_nas_nn::{ParamPath, PathVisitor, visit_with_paths};
///
/// struct Keys(Vec<String>);
/// impl PathVisitor for Keys {
///     fn visit<const D: usize>(&mut self, path: &ParamPath, _: &Param<Tensor<D>>) {
///         self.0.push(path.key());
///     }
/// }
/// let mut keys = Keys(Vec::new());
/// visit_with_paths(&LinearConfig::new(3, 2).init(&Device::flex()), &mut keys);
/// assert_eq!(keys.0, ["weight", "bias"]);
/// ```
pub fn visit_with_paths<M: Module, V: PathVisitor>(module: &M, visitor: &mut V) {
    let mut tracked = Tracked {
        path: ParamPath::default(),
        inner: visitor,
    };
    module.visit(&mut tracked);
}

/// `module` with every float parameter replaced by what `mapper` makes of it and its path.
pub fn map_with_paths<M: Module, V: PathMapper>(module: M, mapper: &mut V) -> M {
    let mut tracked = Tracked {
        path: ParamPath::default(),
        inner: mapper,
    };
    module.map(&mut tracked)
}

impl<V: PathVisitor> PathVisitor for &mut V {
    fn visit<const D: usize>(&mut self, path: &ParamPath, param: &Param<Tensor<D>>) {
        (**self).visit(path, param);
    }
}

impl<V: PathMapper> PathMapper for &mut V {
    fn map<const D: usize>(
        &mut self,
        path: &ParamPath,
        param: Param<Tensor<D>>,
    ) -> Param<Tensor<D>> {
        (**self).map(path, param)
    }
}
