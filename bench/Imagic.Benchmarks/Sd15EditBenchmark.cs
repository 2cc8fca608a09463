using System.Diagnostics;
using System.Text.Json;
using Imagic.Editing;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>One measured (or skipped) phase of <see cref="Sd15EditBenchmark"/>.</summary>
/// <param name="Name">What was timed; recipes find their phases by this name.</param>
/// <param name="UNetBatch">The UNet's batch in one step (0 for the VAE and the text encoder).</param>
/// <param name="MedianSeconds">Median over the timed repetitions, after one warm-up; null when skipped.</param>
/// <param name="PeakResidentMegabytes">VmHWM over the phase (reset at its start), warm-up included; null when skipped.</param>
/// <param name="ResidentBeforeMegabytes">VmRSS when the phase started: the three models' weights and the runtime, mostly.</param>
/// <param name="NeededGigabytes">For a stage B variant, the process's resident memory once its gradients and Adam moments exist,
/// from the trained parameter count (activations come on top).</param>
/// <param name="Skipped">Why the phase did not run, or null.</param>
public sealed record EditPhase(string Name, int UNetBatch, double? MedianSeconds, double? MinSeconds, int Timed,
    double? PeakResidentMegabytes, double ResidentBeforeMegabytes, double? NeededGigabytes, string? Skipped);

/// <summary>One term of a projected edit: <see cref="Count"/> runs of <see cref="Phase"/>.</summary>
/// <param name="Seconds">Count × the phase's median; null when the phase was skipped.</param>
public sealed record ProjectionTerm(string Name, int Count, string Phase, double? StepSeconds, double? Seconds);

/// <summary>A whole 512 px edit under one recipe, projected from the measured phases.</summary>
/// <param name="Seconds">The sum of the terms; null when a term's phase was skipped (then <see cref="KnownSeconds"/> is a lower bound).</param>
/// <param name="PeakResidentMegabytes">The highest peak of the phases the recipe runs (of those measured).</param>
/// <param name="Dominant">The term that takes the most time.</param>
/// <param name="MeetsGoal">Whether the edit takes under <see cref="Sd15EditReport.GoalMinutes"/> and
/// <see cref="Sd15EditReport.GoalGigabytes"/>; null when a term is missing.</param>
/// <param name="Notes">What the projection leaves out for this recipe.</param>
public sealed record EditProjection(string Recipe, IReadOnlyList<ProjectionTerm> Terms, double? Seconds, double KnownSeconds,
    double? PeakResidentMegabytes, string? PeakPhase, string Dominant, bool? MeetsGoal, IReadOnlyList<string> Notes);

/// <summary>What <c>--measure sd15-edit</c> reports.</summary>
public sealed record Sd15EditReport(int Height, int Width, int Threads, int TimedSteps, long UNetParameters, double WeightMegabytes,
    IReadOnlyList<EditPhase> Phases, IReadOnlyList<EditProjection> Projections, double GoalMinutes, double GoalGigabytes,
    bool PeakResetPerPhase, string Machine)
{
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Projects a whole Imagic edit on a full-size Stable Diffusion 1.5 (random weights, <c>bench/configs</c>) from the time and
/// peak memory of one step of each of its parts, run through the editor's own units: text encoding, VAE encode, a stage A
/// step (<see cref="EmbeddingOptimization"/>), stage B steps (<see cref="ModelFineTuning"/>: full and LoRA, each with and
/// without gradient checkpointing), a guided sampling step and a DDIM inversion step
/// (<see cref="StableDiffusionPipeline.GuidedModelOutput(Tensor, long, Tensor, Tensor, double, double)"/>, the body of the sampling and inversion loops), and VAE decode.
/// </summary>
/// <remarks>
/// The edit of a recipe (<see cref="ImagicRecipes.PaperOptions"/>, <see cref="ImagicRecipes.FastOptions"/>) is
/// text + encode + A·t_A + B·t_B + [S·t_inversion] + S·|η sweep|·t_sampling + |η sweep|·decode, with A, B, S its stage A, B and
/// sampling steps, the inversion term only when it starts stage C from the input's inversion, and one sweep seed as
/// <c>imagic edit</c> writes; its peak is the highest peak of the phases it runs. At 64×64 latents stage C samples one η at a
/// time (<see cref="InterpolationSampling.MaxBatchPixels"/>), as timed; at smaller test sizes it batches several, so the
/// projection over-counts there. Stage B variants whose gradients and Adam moments alone would exceed the memory budget are
/// skipped, with what they would need.
/// </remarks>
public static class Sd15EditBenchmark
{
    /// <summary>The goal of issue 20 for the fast recipe: a whole 512 px SD 1.5 edit on 2 cores under this many minutes…</summary>
    public const double GoalMinutes = 30;

    /// <summary>… and this peak resident memory (GB of 1024 MB).</summary>
    public const double GoalGigabytes = 16;

    /// <summary>The recipes projected, by name.</summary>
    public static IReadOnlyList<(string Name, ImagicOptions Options)> Recipes =>
        [(ImagicRecipes.Paper, ImagicRecipes.PaperOptions), (ImagicRecipes.Fast, ImagicRecipes.FastOptions)];

    /// <param name="latentSize">Latent side: 64 for SD 1.5's 512 px; smaller to check the mode quickly.</param>
    /// <param name="timed">Timed repetitions of each phase after one warm-up.</param>
    /// <param name="budgetGigabytes">The memory a stage B variant may need; null: this process's resident set plus the memory
    /// the machine has available (MemAvailable) when the variant starts.</param>
    /// <param name="allowLarge">Run every stage B variant, whatever it needs.</param>
    public static Sd15EditReport Run(string configsDir, string tokenizerDir, int latentSize, int timed, double? budgetGigabytes,
        bool allowLarge, Action<string> log)
    {
        bool resets = ProcessMemory.ResetPeak();
        using var pipe = Sd15Benchmark.Build(configsDir, tokenizerDir);
        var unet = pipe.UNet;
        long unetParameters = unet.parameters().Sum(p => p.numel());
        double weightMegabytes = new nn.Module[] { pipe.TextEncoder, unet, pipe.Vae! }.SelectMany(m => m.parameters())
            .Sum(p => p.numel() * p.element_size()) / 1048576.0;
        int size = latentSize * pipe.VaeScaleFactor;
        log($"SD 1.5 with random weights ({weightMegabytes:F0} MB in float32), {size}×{size} px ({latentSize}×{latentSize} latents), " +
            $"one warm-up and {timed} timed repetitions per phase");

        const string prompt = "a photo of a dog standing on a beach";
        var ddpm = new DdpmScheduler(pipe.SchedulerConfig);
        using var photo = torch.rand(new long[] { 1, 3, size, size }, generator: new Generator(1)) * 2 - 1;
        using var vaeGenerator = new Generator(0);
        using var latents = pipe.EncodeImage(photo, vaeGenerator);
        using var eTgt = pipe.EncodePrompt(prompt);
        using var eOpt = (eTgt + 0.01).DetachFromDisposeScope();
        using var uncond = pipe.EncodePrompt("");
        var phases = new List<EditPhase>();
        var recipes = Recipes;

        // Inference phases first, then training from the least memory to the most: glibc keeps some freed memory, and
        // a phase's peak counts from where the last one left the resident set.
        phases.Add(Measure(TextPhase, 0, timed, log, () =>
        {
            pipe.EncodePrompt(prompt);
            pipe.EncodePrompt("");
        }));
        phases.Add(Measure(EncodePhase, 0, timed, log, () => pipe.EncodeImage(photo, vaeGenerator)));
        phases.Add(Measure(DecodePhase, 0, timed, log, () => pipe.DecodeLatents(latents)));
        foreach (var o in recipes.Select(r => r.Options).DistinctBy(SamplingPhase))
        {
            var scheduler = new DdimScheduler(pipe.SchedulerConfig);
            scheduler.SetTimesteps(o.SamplingSteps);
            long t = scheduler.Timesteps[scheduler.Timesteps.Length / 2];
            using var cond = InterpolationSampling.Interpolate(eTgt, eOpt, o.Eta);
            using var noise = new Generator(3);
            phases.Add(Measure(SamplingPhase(o), o.GuidanceScale == 1 ? 1 : 2, timed, log, () =>
            {
                using var _ = torch.no_grad();
                var output = pipe.GuidedModelOutput(latents, t, cond, uncond, o.GuidanceScale, o.GuidanceRescale);
                scheduler.Step(output, t, latents, o.DdimEta, noise);
            }));
        }
        {
            var scheduler = new DdimScheduler(pipe.SchedulerConfig);
            scheduler.SetTimesteps(recipes[0].Options.SamplingSteps);
            long t = scheduler.Timesteps[scheduler.Timesteps.Length / 2];
            phases.Add(Measure(InversionPhase, 1, timed, log, () =>
            {
                using var _ = torch.no_grad();
                pipe.GuidedModelOutput(latents, t, eOpt, eOpt, 1.0);
            }));
        }
        foreach (var o in recipes.Select(r => r.Options).DistinctBy(StageAPhase))
        {
            using var stageA = new EmbeddingOptimization(unet, ddpm, latents, eTgt, o, seed: 1);
            phases.Add(Measure(StageAPhase(o), o.EmbeddingBatch, timed, log, () => stageA.TakeStep()));
        }
        // Stage B: full and LoRA, with and without checkpointing, in each recipe's other settings (batch, rank, contexts).
        var variants = recipes.SelectMany(r => new[] { FinetuneMethod.Lora, FinetuneMethod.Full }
                .SelectMany(m => new[] { true, false }.Select(c => r.Options with { FinetuneMethod = m, GradientCheckpointing = c })))
            .DistinctBy(StageBPhase)
            .OrderBy(o => o.FinetuneMethod == FinetuneMethod.Full).ThenBy(o => !o.GradientCheckpointing);
        foreach (var o in variants)
        {
            string name = StageBPhase(o);
            double neededGigabytes = (ProcessMemory.ResidentMegabytes() + 3 * TrainedMegabytes(unet, o)) / 1024;
            double haveGigabytes = budgetGigabytes ?? (ProcessMemory.ResidentMegabytes() / 1024 + ProcessMemory.AvailableGigabytes());
            if (!allowLarge && neededGigabytes > haveGigabytes)
            {
                string why = $"needs about {neededGigabytes:F1} GB (weights, gradients and two Adam moments, before activations), " +
                    $"have {haveGigabytes:F1} GB" + (budgetGigabytes is null ? " (resident plus available)" : " (--memory-budget)");
                log($"{name}: skipped, {why}; --allow-large runs it");
                phases.Add(new EditPhase(name, o.FinetuneBatch * Contexts(o), null, null, 0, null, ProcessMemory.ResidentMegabytes(),
                    neededGigabytes, why));
                continue;
            }
            double before = Settle(); // before the optimizer's moments are allocated: they are the stage's memory
            using var stageB = new ModelFineTuning(unet, ddpm, latents, eOpt, uncond, o, seed: 2, loraSeed: 4);
            phases.Add(Measure(name, o.FinetuneBatch * Contexts(o), timed, log, () => stageB.TakeStep(), settledAt: before) with
            {
                NeededGigabytes = neededGigabytes,
            });
        }

        var byName = phases.ToDictionary(p => p.Name);
        var projections = recipes.Select(r => Project(r.Name, r.Options, byName)).ToList();
        return new Sd15EditReport(size, size, torch.get_num_threads(), timed, unetParameters, weightMegabytes, phases, projections,
            GoalMinutes, GoalGigabytes, resets,
            $"{Environment.ProcessorCount} cores, {ProcessMemory.TotalGigabytes():F0} GB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
    }

    const string TextPhase = "text encoding (target and empty prompt)";
    const string EncodePhase = "VAE encode";
    const string DecodePhase = "VAE decode";
    const string InversionPhase = "DDIM inversion step";

    static string StageAPhase(ImagicOptions o) => $"stage A step, batch {o.EmbeddingBatch}";

    static string StageBPhase(ImagicOptions o) =>
        "stage B step: " + (o.FinetuneMethod == FinetuneMethod.Full ? "full" : $"LoRA rank {o.LoraRank}") +
        (o.GradientCheckpointing ? " + checkpointing" : "") + $", batch {o.FinetuneBatch * Contexts(o)}";

    static string SamplingPhase(ImagicOptions o) =>
        o.GuidanceScale == 1 ? "unguided sampling step" : o.GuidanceRescale > 0 ? "guided sampling step, rescaled" : "guided sampling step";

    static int Contexts(ImagicOptions o) => o.FinetuneUnconditional ? 2 : 1;

    /// <summary>The megabytes of what stage B trains: every UNet weight, or the LoRA adapters (attached to count them, then removed).</summary>
    static double TrainedMegabytes(UNet2DConditionModel unet, ImagicOptions o)
    {
        if (o.FinetuneMethod == FinetuneMethod.Full)
            return unet.parameters().Sum(p => p.numel() * p.element_size()) / 1048576.0;
        using var g = new Generator(0);
        using var lora = LoraAdapters.Attach(unet, o.LoraRank, o.LoraAlpha ?? o.LoraRank, g);
        return lora.ParameterCount * 4 / 1048576.0;
    }

    /// <summary>The recipe's edit as a sum of measured phases (see the class remarks for the formula).</summary>
    static EditProjection Project(string recipe, ImagicOptions o, IReadOnlyDictionary<string, EditPhase> phases)
    {
        int sweep = o.EtaSweep.Length;
        var terms = new List<(string Name, int Count, string Phase)>
        {
            ("text encoding", 1, TextPhase),
            ("VAE encode", 1, EncodePhase),
            ($"stage A: {o.EmbeddingSteps} steps", o.EmbeddingSteps, StageAPhase(o)),
            ($"stage B: {o.FinetuneSteps} steps", o.FinetuneSteps, StageBPhase(o)),
        };
        if (o.SamplingStart == SamplingStart.Inversion)
            terms.Add(($"DDIM inversion: {o.SamplingSteps} steps", o.SamplingSteps, InversionPhase));
        terms.Add(($"stage C: {o.SamplingSteps} steps × {sweep} η", o.SamplingSteps * sweep, SamplingPhase(o)));
        terms.Add(($"VAE decode × {sweep} η", sweep, DecodePhase));

        var projected = terms.Select(t =>
        {
            double? step = phases[t.Phase].MedianSeconds;
            return new ProjectionTerm(t.Name, t.Count, t.Phase, step, step * t.Count);
        }).ToList();
        bool complete = projected.All(t => t.Seconds is not null);
        double known = projected.Sum(t => t.Seconds ?? 0);
        var peak = terms.Select(t => phases[t.Phase]).Where(p => p.PeakResidentMegabytes is not null)
            .MaxBy(p => p.PeakResidentMegabytes);
        var dominant = projected.MaxBy(t => t.Seconds ?? double.PositiveInfinity)!;
        bool? meets = complete ? known < GoalMinutes * 60 && peak!.PeakResidentMegabytes < GoalGigabytes * 1024 : null;

        var notes = new List<string>();
        int checkpoints = (Math.Max(o.EmbeddingSteps, 1) - 1) / o.CheckpointEvery + (Math.Max(o.FinetuneSteps, 1) - 1) / o.CheckpointEvery;
        notes.Add($"not timed: loading the model, {checkpoints} checkpoints (every {o.CheckpointEvery} steps) and saving the fine-tuned UNet");
        if (o.Forget != UNetHalf.None)
            notes.Add($"forget ({o.Forget}) is not modelled: half a UNet more memory, and an inversion per η group");
        return new EditProjection(recipe, projected, complete ? known : null, known, peak?.PeakResidentMegabytes, peak?.Name,
            dominant.Name, meets, notes);
    }

    /// <summary>Frees what earlier phases left, resets the peak and returns the resident set, in MB.</summary>
    static double Settle()
    {
        GC.Collect(); // tensors of earlier phases that only a finalizer would free
        GC.WaitForPendingFinalizers();
        NativeHeap.Trim();
        ProcessMemory.ResetPeak();
        return ProcessMemory.ResidentMegabytes();
    }

    /// <summary>One warm-up and <paramref name="timed"/> timed runs of <paramref name="step"/>, each in its own dispose scope.</summary>
    /// <param name="settledAt">Null, or the resident set at which the caller settled the heap and reset the peak, before
    /// building what the step needs.</param>
    static EditPhase Measure(string name, int batch, int timed, Action<string> log, Action step, double? settledAt = null)
    {
        double before = settledAt ?? Settle();
        var times = new List<double>();
        for (int i = 0; i <= timed; i++)
        {
            using var scope = torch.NewDisposeScope();
            var clock = Stopwatch.StartNew();
            step();
            if (i > 0) times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        double median = timed % 2 == 1 ? times[timed / 2] : (times[timed / 2 - 1] + times[timed / 2]) / 2;
        double peak = ProcessMemory.PeakResidentMegabytes();
        log($"{name}: median {median:F2} s (min {times[0]:F2} s) over {timed}; peak {peak:F0} MB, from {before:F0} MB");
        return new EditPhase(name, batch, median, times[0], timed, peak, before, null, null);
    }
}
