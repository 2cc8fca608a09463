using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// What stages A and B share: Adam steps on the denoising loss of the input's latents z₀ under a fixed
/// text context, with their own seeded generator. A stage owns its whole resumable state and hands it out
/// as named tensors (<see cref="ExportState"/>), so a run folder can checkpoint it without knowing what is
/// inside, and a stage built from that state takes exactly the steps an uninterrupted one would.
/// </summary>
public abstract class TrainingStage : IDisposable
{
    readonly UNet2DConditionModel _unet;
    readonly DdpmScheduler _ddpm;
    readonly Tensor _latents;
    readonly Generator _generator;
    readonly int _batch;
    readonly TimestepSampling _timesteps;

    /// <summary>The stage's name in progress reports and errors: <c>stage A</c> or <c>stage B</c>.</summary>
    public string Name { get; }

    /// <summary>Steps taken so far.</summary>
    public int Step { get; private set; }

    public int TotalSteps { get; }

    /// <summary>Adam over exactly what this stage trains; its state is part of <see cref="ExportState"/>.</summary>
    private protected abstract Adam Optimizer { get; }

    /// <summary>
    /// The text embeddings the UNet is conditioned on, [K, 77, D]: usually K = 1, e_tgt or e_opt. With K &gt; 1 every
    /// (t, ε) pair is fitted under each of them.
    /// </summary>
    private protected abstract Tensor Context { get; }

    private protected TrainingStage(string name, UNet2DConditionModel unet, DdpmScheduler ddpm, Tensor latents, int totalSteps,
        StageObjective objective, ulong seed)
    {
        Name = name;
        _unet = unet;
        _ddpm = ddpm;
        _latents = latents;
        TotalSteps = totalSteps;
        _batch = objective.Batch;
        _timesteps = objective.Timesteps == TimestepStrategy.Stratified ? TimestepSampling.StratifiedUniform : TimestepSampling.Uniform;
        _generator = new Generator(seed, latents.device);
    }

    /// <summary>
    /// One optimisation step: the denoising loss of a batch of (t, ε) pairs on z₀ (<see cref="StageObjective.Batch"/>
    /// of them, one per stratum when stratified), backward, Adam. Returns the loss.
    /// </summary>
    public double TakeStep()
    {
        double loss;
        using (var scope = torch.NewDisposeScope())
        {
            Optimizer.ZeroGrad();
            var context = Context;
            long contexts = context.shape[0];
            var x0 = _batch * contexts == 1 ? _latents : _latents.expand(_batch * contexts, -1, -1, -1);
            if (contexts > 1) context = context.repeat(_batch, 1, 1);
            var value = DenoisingLoss.Compute(_unet, _ddpm, x0, context, _generator, _timesteps);
            value.backward();
            // Stops at the first non-finite loss or gradient, before it reaches the weights: the last checkpoint stays good.
            NonFinite.Check(value, Optimizer, Name, Step + 1);
            Optimizer.Step();
            loss = value.item<float>();
        }
        Step++;
        return loss;
    }

    /// <summary>
    /// Copies of everything needed to resume: the step, the generator, Adam's moments (<c>adam.*</c>) and what
    /// the stage trains (<see cref="ExportTrained"/>).
    /// </summary>
    public Dictionary<string, Tensor> ExportState()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["step"] = torch.tensor(new long[] { Step }),
            ["generator"] = _generator.get_state(),
        };
        foreach (var (key, value) in Optimizer.ExportState()) state["adam." + key] = value;
        foreach (var (key, value) in ExportTrained()) state[key] = value;
        return state;
    }

    /// <summary>Continues from a state written by <see cref="ExportState"/> of the same stage and settings.</summary>
    private protected void ImportState(IReadOnlyDictionary<string, Tensor> state)
    {
        Tensor Get(string key) => state.TryGetValue(key, out var t) ? t
            : throw new ImagicException($"Cannot resume {Name}: its checkpoint has no '{key}'.");
        int step = (int)Get("step").item<long>();
        if (step < 0 || step > TotalSteps)
            throw new ImagicException($"Cannot resume {Name}: its checkpoint is at step {step}, outside 0…{TotalSteps}.");
        // The trained tensors first: a state of other settings fails there, naming what it lacks.
        ImportTrained(state);
        _generator.set_state(Get("generator"));
        Optimizer.ImportState(state.Where(kv => kv.Key.StartsWith("adam.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["adam.".Length..], kv => kv.Value));
        Step = step;
    }

    /// <summary>Copies of the trained tensors, under names of the stage's choosing.</summary>
    private protected abstract IEnumerable<KeyValuePair<string, Tensor>> ExportTrained();

    /// <summary>Loads the trained tensors written by <see cref="ExportTrained"/>.</summary>
    private protected abstract void ImportTrained(IReadOnlyDictionary<string, Tensor> state);

    public virtual void Dispose() => _generator.Dispose();
}

/// <summary>How a training stage draws its (t, ε) pairs.</summary>
/// <param name="Batch">(t, ε) pairs per step, each with its own timestep; the paper uses 1.</param>
/// <param name="Timesteps">Independent uniform timesteps, or one per stratum of [0, T).</param>
public sealed record StageObjective(int Batch, TimestepStrategy Timesteps);
