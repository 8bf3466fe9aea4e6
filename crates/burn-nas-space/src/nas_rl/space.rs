//! [`NasRlSpace`]: Zoph & Le's layer-wise CNN space with configurable options.

use super::arch::{NasRlArch, NasRlLayer};
use crate::decision::{Decision, DecisionGroup, Decisions, GroupId, HeadId, Token};
use crate::error::{ArchError, Result};
use crate::skips::{from_bits, to_bits};
use crate::space::{Architecture, SearchSpace};

/// Controller head of the filter-height decisions.
pub const FILTER_HEIGHT_HEAD: HeadId = HeadId::from_static("filter_height");
/// Controller head of the filter-width decisions.
pub const FILTER_WIDTH_HEAD: HeadId = HeadId::from_static("filter_width");
/// Controller head of the stride decisions (of the height stride, with a stride per axis).
pub const STRIDE_HEAD: HeadId = HeadId::from_static("stride");
/// Controller head of the width-stride decisions of a space with a stride per axis.
pub const STRIDE_WIDTH_HEAD: HeadId = HeadId::from_static("stride_width");
/// Controller head of the filter-count decisions.
pub const FILTERS_HEAD: HeadId = HeadId::from_static("filters");

/// The NAS-RL search space (Zoph & Le 2017): `N` conv layers; per layer filter height and
/// width (default {1,3,5,7}), filter count (default {24,36,48,64}), optionally a stride
/// ({1,2,3} by [`with_strides`](Self::with_strides)), and skip connections from any earlier layer.
///
/// Decisions per layer: height, width, (stride, or stride height and stride width with
/// [`with_stride_per_axis`](Self::with_stride_per_axis),) filters, skip set over earlier
/// layers. With [`with_anchor_first`](Self::with_anchor_first) the skip set comes first, as
/// the anchor point of the paper's figure.
///
/// ```
/// use burn_nas_space::{NasRlSpace, SearchSpace};
/// let space = NasRlSpace::new(6)?.with_strides(&[1, 2, 3])?;
/// // per layer 4·4·3·4 choices, plus 2^15 skip patterns over 6 layers
/// let expected = 6.0 * 192f64.log10() + 15.0 * 2f64.log10();
/// assert!((space.size().log10 - expected).abs() < 1e-9);
/// # Ok::<(), burn_nas_space::ArchError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NasRlSpace {
    layers: usize,
    filter_heights: Vec<usize>,
    filter_widths: Vec<usize>,
    filter_counts: Vec<usize>,
    strides: Option<Vec<usize>>,
    stride_per_axis: bool,
    anchor_first: bool,
    decisions: Decisions,
}

fn check_options(field: &str, options: &[usize]) -> Result<()> {
    let bad = |reason: String| ArchError::InvalidSpace {
        field: field.to_string(),
        reason,
    };
    if options.is_empty() {
        return Err(bad("at least one option is needed".into()));
    }
    if options.contains(&0) {
        return Err(bad(format!("{options:?} contains 0")));
    }
    if let Some((_, v)) = options
        .iter()
        .enumerate()
        .find(|(i, v)| options[..*i].contains(v))
    {
        return Err(bad(format!("{v} is listed twice")));
    }
    Ok(())
}

fn show(options: &[usize]) -> String {
    let words: Vec<String> = options.iter().map(usize::to_string).collect();
    format!("{{{}}}", words.join(", "))
}

impl NasRlSpace {
    /// The space's one decision group, all layers (`layers`).
    pub const LAYERS: GroupId = GroupId::from_static("layers");

    /// `layers` layers with the paper's options and no stride decision.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for zero layers.
    pub fn new(layers: usize) -> Result<Self> {
        Self::with_options(
            layers,
            &[1, 3, 5, 7],
            &[1, 3, 5, 7],
            &[24, 36, 48, 64],
            None,
        )
    }

    /// A space with every option list given; `strides: None` leaves strides at 1.
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for zero layers or an option list that is empty, contains 0,
    /// or repeats a value.
    pub fn with_options(
        layers: usize,
        filter_heights: &[usize],
        filter_widths: &[usize],
        filter_counts: &[usize],
        strides: Option<&[usize]>,
    ) -> Result<Self> {
        NasRlSpace {
            layers,
            filter_heights: filter_heights.to_vec(),
            filter_widths: filter_widths.to_vec(),
            filter_counts: filter_counts.to_vec(),
            strides: strides.map(<[usize]>::to_vec),
            stride_per_axis: false,
            anchor_first: false,
            decisions: Decisions::new(Vec::new())?,
        }
        .rebuilt()
    }

    /// Checks the options and derives the decision list from them.
    fn rebuilt(mut self) -> Result<Self> {
        if self.layers == 0 {
            return Err(ArchError::InvalidSpace {
                field: "layers".into(),
                reason: "at least 1 layer is needed".into(),
            });
        }
        check_options("filter_heights", &self.filter_heights)?;
        check_options("filter_widths", &self.filter_widths)?;
        check_options("filter_counts", &self.filter_counts)?;
        if let Some(s) = &self.strides {
            check_options("strides", s)?;
        }
        let blocks = (0..self.layers)
            .map(|i| {
                let mut block = vec![
                    Decision::categorical(self.filter_heights.len(), FILTER_HEIGHT_HEAD),
                    Decision::categorical(self.filter_widths.len(), FILTER_WIDTH_HEAD),
                ];
                if let Some(s) = &self.strides {
                    block.push(Decision::categorical(s.len(), STRIDE_HEAD));
                    if self.stride_per_axis {
                        block.push(Decision::categorical(s.len(), STRIDE_WIDTH_HEAD));
                    }
                }
                block.push(Decision::categorical(
                    self.filter_counts.len(),
                    FILTERS_HEAD,
                ));
                let skips = Decision::SkipSet { among: i };
                if self.anchor_first {
                    block.insert(0, skips);
                } else {
                    block.push(skips);
                }
                block
            })
            .collect();
        self.decisions = Decisions::new(vec![DecisionGroup {
            name: Self::LAYERS,
            initial_anchors: 0,
            blocks,
        }])?;
        Ok(self)
    }

    /// The same space with a stride decision per layer over `strides` (the paper: {1, 2, 3}).
    ///
    /// # Errors
    /// As [`with_options`](Self::with_options).
    pub fn with_strides(mut self, strides: &[usize]) -> Result<Self> {
        self.strides = Some(strides.to_vec());
        self.rebuilt()
    }

    /// The same space predicting the stride along the height and along the width separately,
    /// from the same options (Zoph & Le's controller predicts stride height and stride width).
    ///
    /// ```
    /// use burn_nas_space::{NasRlSpace, SearchSpace};
    /// let space = NasRlSpace::new(2)?.with_strides(&[1, 2, 3])?.with_stride_per_axis()?;
    /// assert_eq!(space.decisions().len(), 2 * 6);
    /// # Ok::<(), burn_nas_space::ArchError>(())
    /// ```
    ///
    /// # Errors
    /// [`ArchError::InvalidSpace`] for a space without stride options
    /// ([`with_strides`](Self::with_strides) first).
    pub fn with_stride_per_axis(mut self) -> Result<Self> {
        if self.strides.is_none() {
            return Err(ArchError::InvalidSpace {
                field: "stride_per_axis".into(),
                reason: "the space has no stride decision: call with_strides first".into(),
            });
        }
        self.stride_per_axis = true;
        self.rebuilt()
    }

    /// Whether the space predicts one stride per axis.
    pub fn stride_per_axis(&self) -> bool {
        self.stride_per_axis
    }

    /// The same space with each layer's skip set as its *first* decision instead of its last:
    /// Zoph & Le's figure starts every layer with its anchor point, whose controller state
    /// is the one later layers attend to when they choose their inputs. Architectures are the
    /// same; only the order of the tokens (and so what the controller has seen when it
    /// decides) changes.
    ///
    /// ```
    /// use burn_nas_space::{Decision, NasRlSpace, SearchSpace};
    /// let space = NasRlSpace::new(3)?.with_anchor_first()?;
    /// let layer_2 = &space.decisions().groups()[0].blocks[2];
    /// assert_eq!(layer_2[0], Decision::SkipSet { among: 2 });
    /// # Ok::<(), burn_nas_space::ArchError>(())
    /// ```
    ///
    /// # Errors
    /// As [`with_options`](Self::with_options); none for a space built by them, whose options
    /// were checked already.
    pub fn with_anchor_first(mut self) -> Result<Self> {
        self.anchor_first = true;
        self.rebuilt()
    }

    /// Whether each layer's skip set is its first decision
    /// ([`with_anchor_first`](Self::with_anchor_first)).
    pub fn anchor_first(&self) -> bool {
        self.anchor_first
    }

    /// Number of layers (`N`).
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// Filter height options.
    pub fn filter_heights(&self) -> &[usize] {
        &self.filter_heights
    }

    /// Filter width options.
    pub fn filter_widths(&self) -> &[usize] {
        &self.filter_widths
    }

    /// Filter count options.
    pub fn filter_counts(&self) -> &[usize] {
        &self.filter_counts
    }

    /// Stride options, if the space has a stride decision.
    pub fn strides(&self) -> Option<&[usize]> {
        self.strides.as_deref()
    }

    fn block_len(&self) -> usize {
        match (&self.strides, self.stride_per_axis) {
            (None, _) => 4,
            (Some(_), false) => 5,
            (Some(_), true) => 6,
        }
    }
}

fn index_of(layer: usize, field: &str, options: &[usize], value: usize) -> Result<Token> {
    options
        .iter()
        .position(|&o| o == value)
        .map(Token::Choice)
        .ok_or_else(|| ArchError::OutOfRange {
            location: format!("layer {layer}"),
            field: field.to_string(),
            value,
            allowed: show(options),
        })
}

impl SearchSpace for NasRlSpace {
    type Arch = NasRlArch;

    fn name(&self) -> &str {
        NasRlArch::SPACE
    }

    fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    fn decode(&self, tokens: &[Token]) -> Result<NasRlArch> {
        self.decisions.check(tokens)?;
        // Checked above: choices in range, and the skip set where `decisions` puts it.
        let c = |t: &Token| t.choice().unwrap_or_default();
        let layers = tokens
            .chunks_exact(self.block_len())
            .map(|block| {
                let (skips, t) = if self.anchor_first {
                    (&block[0], &block[1..])
                } else {
                    (&block[block.len() - 1], &block[..block.len() - 1])
                };
                // Height, width, the stride decisions, filters.
                let (stride, stride_width) = match &self.strides {
                    Some(s) if self.stride_per_axis => {
                        let (h, w) = (s[c(&t[2])], s[c(&t[3])]);
                        (h, (w != h).then_some(w))
                    }
                    Some(s) => (s[c(&t[2])], None),
                    None => (1, None),
                };
                NasRlLayer {
                    filter_height: self.filter_heights[c(&t[0])],
                    filter_width: self.filter_widths[c(&t[1])],
                    filters: self.filter_counts[c(&t[t.len() - 1])],
                    stride,
                    stride_width,
                    inputs: from_bits(skips.subset().unwrap_or_default()),
                }
            })
            .collect();
        Ok(NasRlArch { layers })
    }

    fn depth(&self) -> Option<usize> {
        Some(self.layers)
    }

    /// This space with `depth` layers and the same options. A layer's decisions depend only
    /// on its position, so the shallower space's decisions are a prefix of the deeper one's.
    fn at_depth(&self, depth: usize) -> Result<Self> {
        NasRlSpace {
            layers: depth,
            ..self.clone()
        }
        .rebuilt()
    }

    fn encode(&self, arch: &NasRlArch) -> Result<Vec<Token>> {
        if arch.layers.len() != self.layers {
            return Err(ArchError::WrongLength {
                what: "layers".into(),
                expected: self.layers.to_string(),
                found: arch.layers.len(),
            });
        }
        arch.validate()?;
        let mut tokens = Vec::with_capacity(self.decisions.len());
        for (i, l) in arch.layers.iter().enumerate() {
            let skips = Token::Subset(to_bits(i, &l.inputs));
            if self.anchor_first {
                tokens.push(skips.clone());
            }
            tokens.push(index_of(
                i,
                "filter_height",
                &self.filter_heights,
                l.filter_height,
            )?);
            tokens.push(index_of(
                i,
                "filter_width",
                &self.filter_widths,
                l.filter_width,
            )?);
            let [stride_h, stride_w] = l.strides();
            match &self.strides {
                Some(s) => {
                    tokens.push(index_of(i, "stride", s, stride_h)?);
                    if self.stride_per_axis {
                        tokens.push(index_of(i, "stride_width", s, stride_w)?);
                    }
                }
                None => {
                    index_of(i, "stride", &[1], stride_h)?;
                }
            }
            if !self.stride_per_axis && stride_w != stride_h {
                // One stride for both axes: the width stride must be the same.
                index_of(i, "stride_width", &[stride_h], stride_w)?;
            }
            tokens.push(index_of(i, "filters", &self.filter_counts, l.filters)?);
            if !self.anchor_first {
                tokens.push(skips);
            }
        }
        Ok(tokens)
    }
}
