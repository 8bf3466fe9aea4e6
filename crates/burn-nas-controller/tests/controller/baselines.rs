//! Random search, regularized evolution and their mutation operator, on all three spaces.

use burn_nas_controller::synthetic::agreement;
use burn_nas_controller::{
    EvolutionConfig, Proposal, RandomSearch, RegularizedEvolution, SearchStrategy, StrategyError,
    mutate,
};
use burn_nas_space::{
    MacroOp, MacroSpace, MicroSpace, NasRlSpace, SearchSpace, Token, nas_rl::NasRlArch,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Number of decision units that differ: one per differing choice, one per differing skip bit.
fn units_changed(a: &[Token], b: &[Token]) -> usize {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x, y) {
            (Token::Choice(p), Token::Choice(q)) => usize::from(p != q),
            (Token::Subset(p), Token::Subset(q)) => {
                assert_eq!(p.len(), q.len());
                p.iter().zip(q).filter(|(s, t)| s != t).count()
            }
            _ => panic!("token kinds differ: {x:?} vs {y:?}"),
        })
        .sum()
}

fn evolution<S: SearchSpace>(
    space: S,
    population: usize,
    sample_size: usize,
    seed: u64,
) -> RegularizedEvolution<S> {
    let config = EvolutionConfig {
        population,
        sample_size,
        seed,
    };
    RegularizedEvolution::new(space, config).expect("valid settings")
}

/// A hidden target: the tokens of a seeded random architecture.
fn target<S: SearchSpace>(space: &S, seed: u64) -> Vec<Token> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = space.sample(&mut rng).expect("space samples");
    space.encode(&arch).expect("sampled architecture encodes")
}

/// Runs `evaluations` proposals in batches of 10, rewarding agreement with `target`; returns
/// every proposal in order and the best reward seen.
fn run<A, St: SearchStrategy<A>>(
    strategy: &mut St,
    evaluations: usize,
    target: &[Token],
) -> (Vec<Proposal<A>>, f64) {
    let mut proposals = Vec::new();
    let mut best = f64::NEG_INFINITY;
    let mut left = evaluations;
    while left > 0 {
        let batch = strategy.propose(left.min(10)).expect("propose");
        assert_eq!(batch.len(), left.min(10));
        left -= batch.len();
        let results: Vec<_> = batch
            .into_iter()
            .map(|p| {
                let reward = agreement(&p.tokens, target);
                (p, reward)
            })
            .collect();
        strategy.observe(&results).expect("observe");
        for (p, reward) in results {
            best = best.max(reward);
            proposals.push(p);
        }
    }
    (proposals, best)
}

fn check_mutation<S: SearchSpace>(space: &S) -> TestResult {
    let decisions = space.decisions();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..500 {
        let parent = decisions.sample(&mut rng);
        let child = mutate(decisions, &parent, &mut rng)?;
        assert_eq!(units_changed(&parent, &child), 1, "{}", space.name());
        decisions.check(&child)?;
        space.decode(&child)?;
    }
    Ok(())
}

#[test]
fn mutation_changes_exactly_one_unit_in_every_space() -> TestResult {
    check_mutation(&MicroSpace::default())?;
    check_mutation(&MacroSpace::default())?;
    check_mutation(&NasRlSpace::new(6)?.with_strides(&[1, 2, 3])?)?;
    Ok(())
}

#[test]
fn mutation_reaches_every_decision_and_rejects_bad_tokens() -> TestResult {
    // Every decision that can change does change sometimes (the draw is over all of them).
    let space = NasRlSpace::new(4)?.with_strides(&[1, 2, 3])?;
    let decisions = space.decisions();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let parent = decisions.sample(&mut rng);
    let mut touched = vec![false; parent.len()];
    for _ in 0..2000 {
        let child = mutate(decisions, &parent, &mut rng)?;
        for (i, (a, b)) in parent.iter().zip(&child).enumerate() {
            touched[i] |= a != b;
        }
    }
    // The first layer's skip set has no anchor to connect, so it cannot change.
    let changeable: Vec<bool> = decisions
        .as_slice()
        .iter()
        .map(|d| d.cardinality() > 1.0)
        .collect();
    assert_eq!(touched, changeable);

    // A space where nothing can change: the tokens come back as they are.
    let fixed = NasRlSpace::with_options(1, &[3], &[3], &[24], None)?;
    let tokens = fixed.decisions().sample(&mut rng);
    assert_eq!(mutate(fixed.decisions(), &tokens, &mut rng)?, tokens);

    // Tokens that do not fit are an error, not a panic.
    let short = &parent[..parent.len() - 1];
    assert!(matches!(
        mutate(decisions, short, &mut rng),
        Err(StrategyError::Arch(_))
    ));
    Ok(())
}

/// Best rewards of random search and evolution (population 50, sample size 10) on the
/// synthetic task, same budget of `EVALUATIONS` and the same target per seed.
fn compare<S: SearchSpace + Clone>(space: &S) -> Vec<(f64, f64)> {
    const EVALUATIONS: usize = 2000;
    [1u64, 2, 3]
        .into_iter()
        .map(|seed| {
            let target = target(space, 100 + seed);
            let (_, random_best) = run(
                &mut RandomSearch::new(space.clone(), seed),
                EVALUATIONS,
                &target,
            );
            let mut evo = evolution(space.clone(), 50, 10, seed);
            let (_, evo_best) = run(&mut evo, EVALUATIONS, &target);
            assert_eq!(evo.best().map(|(_, r)| r), Some(evo_best));
            println!(
                "{} seed {seed}: random best {random_best:.3}, evolution best {evo_best:.3}",
                space.name()
            );
            (random_best, evo_best)
        })
        .collect()
}

/// Measured (2,000 evaluations, batches of 10, seeds 1, 2, 3), best reward random vs evolution:
/// enas_micro (40 units): 0.525 / 0.500 / 0.450 vs 0.975 / 0.975 / 0.975;
/// enas_macro, 6 layers (21 units): 0.714 / 0.762 / 0.714 vs 1.000 / 1.000 / 1.000;
/// nas_rl, 6 layers (33 units): 0.636 / 0.727 / 0.667 vs 1.000 / 1.000 / 1.000.
#[test]
fn evolution_beats_random_search_on_a_synthetic_task() -> TestResult {
    let results = [
        ("enas_micro", compare(&MicroSpace::default())),
        ("enas_macro", compare(&MacroSpace::new(6, &MacroOp::ALL)?)),
        ("nas_rl", compare(&NasRlSpace::new(6)?)),
    ];
    for (name, runs) in results {
        for (random_best, evo_best) in runs {
            assert!(
                evo_best > random_best,
                "{name}: {evo_best} vs {random_best}"
            );
            assert!(evo_best >= 0.9, "{name}: evolution only reached {evo_best}");
        }
    }
    Ok(())
}

fn token_history<A>(proposals: &[Proposal<A>]) -> Vec<Vec<Token>> {
    proposals.iter().map(|p| p.tokens.clone()).collect()
}

#[test]
fn same_seed_same_proposals_other_seed_other_proposals() {
    let space = MicroSpace::default();
    let target = target(&space, 5);
    let random = |seed| run(&mut RandomSearch::new(space.clone(), seed), 200, &target).0;
    assert_eq!(token_history(&random(1)), token_history(&random(1)));
    assert_ne!(token_history(&random(1)), token_history(&random(2)));

    let evo = |seed| run(&mut evolution(space.clone(), 20, 5, seed), 200, &target).0;
    assert_eq!(evo(1), evo(1));
    let (a, b) = (evo(1), evo(2));
    assert_ne!(token_history(&a[..20]), token_history(&b[..20]));
    assert_ne!(token_history(&a[20..]), token_history(&b[20..]));
}

/// Saves after `first` evaluations, round-trips the state through JSON text, loads it into a
/// strategy built with another seed, and checks that the next `then` proposals (and the final
/// state) equal those of an uninterrupted run.
fn check_resume<A, St: SearchStrategy<A>>(
    make: impl Fn(u64) -> St,
    target: &[Token],
    first: usize,
    then: usize,
) -> TestResult
where
    A: PartialEq + std::fmt::Debug,
{
    let mut straight = make(1);
    let (all, _) = run(&mut straight, first + then, target);

    let mut before = make(1);
    run(&mut before, first, target);
    let text = serde_json::to_string(&before.save_state()?)?;
    let mut after = make(99);
    after.load_state(&serde_json::from_str(&text)?)?;
    let (rest, _) = run(&mut after, then, target);

    assert_eq!(rest.len(), then);
    assert!(rest == all[first..], "proposals after resuming differ");
    assert_eq!(after.save_state()?, straight.save_state()?);
    Ok(())
}

#[test]
fn evolution_resumes_exactly_after_save_and_load() -> TestResult {
    let space = NasRlSpace::new(6)?;
    let target = target(&space, 8);
    let make = |seed| evolution(space.clone(), 50, 10, seed);
    check_resume(make, &target, 300, 200)?;
    // Also in the middle of the random phase, with a partial population.
    check_resume(make, &target, 30, 200)?;
    Ok(())
}

#[test]
fn random_search_resumes_exactly_after_save_and_load() -> TestResult {
    let space = MicroSpace::default();
    let target = target(&space, 8);
    check_resume(
        |seed| RandomSearch::new(space.clone(), seed),
        &target,
        300,
        200,
    )
}

#[test]
fn evolution_resumes_with_random_proposals_pending() -> TestResult {
    // Proposals made but not yet observed when the state is saved still count towards the
    // initial population after loading.
    let space = MacroSpace::default();
    let mut evo = evolution(space.clone(), 20, 5, 4);
    let pending = evo.propose(15)?;
    let mut loaded = evolution(space, 20, 5, 5);
    loaded.load_state(&evo.save_state()?)?;
    let results: Vec<_> = pending.into_iter().map(|p| (p, 0.5)).collect();
    loaded.observe(&results[..10])?;
    let next = loaded.propose(8)?;
    // 10 observed + 5 pending: 5 more random ones fill the population, then evolution.
    let parents: Vec<bool> = next.iter().map(|p| p.parent.is_some()).collect();
    assert_eq!(parents, [[false; 5], [true; 5]].concat()[..8]);
    Ok(())
}

#[test]
fn training_samples_leave_evolutions_initial_population_random() -> TestResult {
    // A weight-sharing search samples the supernet's training cells through the strategy
    // before the round's proposals. Those samples must not count as proposals pending their
    // reward, or the random initial population would never be drawn.
    let space = MicroSpace::default();
    let mut evo = evolution(space.clone(), 20, 5, 6);
    for _ in 0..200 {
        evo.sample_for_training()?;
    }
    let first = evo.propose(20)?;
    assert!(first.iter().all(|p| p.parent.is_none()), "not all random");
    let results: Vec<_> = first.into_iter().map(|p| (p, 0.5)).collect();
    evo.observe(&results)?;
    // With a population, training samples are its mutations: one unit from some member.
    let members: Vec<Vec<Token>> = evo
        .population()
        .map(|(arch, _)| space.encode(arch))
        .collect::<Result<_, _>>()?;
    for _ in 0..20 {
        let tokens = space.encode(&evo.sample_for_training()?)?;
        assert!(members.iter().any(|m| units_changed(m, &tokens) == 1));
    }
    assert!(evo.propose(5)?.iter().all(|p| p.parent.is_some()));
    Ok(())
}

#[test]
fn load_state_rejects_other_strategies_and_spaces() -> TestResult {
    fn is_state_error(result: Result<(), StrategyError>) -> bool {
        matches!(result, Err(StrategyError::State { .. }))
    }
    let micro = MicroSpace::default();
    let micro_target = target(&micro, 2);
    let mut random_micro = RandomSearch::new(micro.clone(), 1);
    let mut evo_micro = evolution(micro, 10, 3, 1);
    run(&mut evo_micro, 30, &micro_target);
    let random_state = random_micro.save_state()?;
    let evo_state = evo_micro.save_state()?;

    let mut evo_macro = evolution(MacroSpace::default(), 10, 3, 1);
    let untouched = evo_macro.save_state()?;
    assert!(is_state_error(evo_micro.load_state(&random_state)));
    assert!(is_state_error(random_micro.load_state(&evo_state)));
    assert!(is_state_error(evo_macro.load_state(&evo_state)));
    assert!(is_state_error(
        RandomSearch::new(MacroSpace::default(), 1).load_state(&random_state)
    ));
    // Same space name, other settings: the saved tokens do not fit.
    let mut small = evolution(MacroSpace::new(6, &MacroOp::ALL)?, 10, 3, 1);
    let mut big = evolution(MacroSpace::default(), 10, 3, 1);
    let small_target = target(small.space(), 3);
    run(&mut small, 20, &small_target);
    assert!(is_state_error(big.load_state(&small.save_state()?)));
    // Damaged states.
    let mut damaged = evo_state.clone();
    damaged["config"]["sample_size"] = 0.into();
    assert!(is_state_error(evo_micro.load_state(&damaged)));
    assert!(is_state_error(evo_micro.load_state(&serde_json::json!({}))));
    // A rejected state leaves the strategy as it was.
    assert_eq!(evo_macro.save_state()?, untouched);
    Ok(())
}

#[test]
fn evolved_proposals_are_one_mutation_from_their_parent() -> TestResult {
    let space = NasRlSpace::new(6)?.with_strides(&[1, 2, 3])?;
    let target = target(&space, 6);
    let mut evo = evolution(space.clone(), 20, 5, 9);

    // Observe 15 random ones; a batch of 10 then gets random ones only for the gap of 5.
    let first: Vec<_> = evo.propose(15)?.into_iter().map(|p| (p, 0.1)).collect();
    assert!(first.iter().all(|(p, _)| p.parent.is_none()));
    evo.observe(&first)?;
    let batch = evo.propose(10)?;
    let parents: Vec<bool> = batch.iter().map(|p| p.parent.is_some()).collect();
    assert_eq!(parents, [[false; 5], [true; 5]].concat());

    let (proposals, _) = run(&mut evo, 300, &target);
    for p in &proposals {
        let parent = p
            .parent
            .as_ref()
            .expect("population is full: every proposal evolves");
        let parent_tokens = space.encode(parent)?;
        assert_eq!(units_changed(&parent_tokens, &p.tokens), 1);
        assert_eq!(space.decode(&p.tokens)?, p.arch);
    }
    // Aging keeps only the 20 most recent.
    let population: Vec<&NasRlArch> = evo.population().map(|(a, _)| a).collect();
    let recent: Vec<&NasRlArch> = proposals[280..].iter().map(|p| &p.arch).collect();
    assert_eq!(population, recent);
    Ok(())
}

#[test]
fn bad_settings_and_rewards_are_rejected() -> TestResult {
    let setting = |population, sample_size| {
        let config = EvolutionConfig {
            population,
            sample_size,
            seed: 0,
        };
        match RegularizedEvolution::new(MicroSpace::default(), config) {
            Err(StrategyError::InvalidSetting { field, .. }) => Some(field),
            _ => None,
        }
    };
    assert_eq!(setting(1, 1), Some("population"));
    assert_eq!(setting(50, 0), Some("sample_size"));
    assert_eq!(setting(50, 51), Some("sample_size"));
    assert_eq!(setting(2, 2), None);
    EvolutionConfig::default().validate()?;

    let mut evo = evolution(MicroSpace::default(), 10, 3, 0);
    let mut random = RandomSearch::new(MicroSpace::default(), 0);
    let proposals = evo.propose(3)?;
    let mut results: Vec<_> = proposals.into_iter().map(|p| (p, 0.5)).collect();
    results[1].1 = f64::NAN;
    let before = evo.save_state()?;
    assert!(matches!(
        evo.observe(&results),
        Err(StrategyError::BadReward { index: 1, .. })
    ));
    assert_eq!(
        evo.save_state()?,
        before,
        "a rejected batch changes nothing"
    );
    assert!(evo.best().is_none());
    assert!(matches!(
        random.observe(&results),
        Err(StrategyError::BadReward { index: 1, .. })
    ));
    results[1].1 = f64::INFINITY;
    assert!(matches!(
        evo.observe(&results),
        Err(StrategyError::BadReward { index: 1, .. })
    ));
    Ok(())
}

#[test]
fn names() {
    assert_eq!(RandomSearch::new(MicroSpace::default(), 0).name(), "random");
    assert_eq!(
        evolution(MicroSpace::default(), 2, 1, 0).name(),
        "evolution"
    );
}
