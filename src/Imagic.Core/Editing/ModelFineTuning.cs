using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Stage B of Imagic (Kawar et al., CVPR 2023, §3.1, eq. 3): with e_opt frozen, fine-tune the UNet in place on
/// the same denoising loss, so that it reconstructs the input from e_opt. Every weight is trained (the paper), or
/// LoRA adapters that <see cref="Complete"/> merges, so everything after stage B sees a plain UNet either way.
/// Its resumable state is the trained tensors (<c>unet.*</c> or <c>lora.*</c>), Adam's moments, the generator
/// and the step.
/// </summary>
public sealed class ModelFineTuning : TrainingStage
{
    readonly UNetFineTuning _tuning;
    readonly Tensor _context;

    /// <param name="unet">The UNet to fine-tune in place.</param>
    /// <param name="latents">z₀, [1, C, h, w].</param>
    /// <param name="optimizedEmbedding">e_opt from stage A, [1, 77, D].</param>
    /// <param name="unconditional">The empty prompt's embedding, fitted as well when
    /// <see cref="ImagicOptions.FinetuneUnconditional"/> is set; otherwise unused.</param>
    /// <param name="loraSeed">Draws the LoRA adapters' A matrices (unused for full fine-tuning).</param>
    /// <param name="state">A state from <see cref="TrainingStage.ExportState"/> to continue from, or null to start.</param>
    public ModelFineTuning(UNet2DConditionModel unet, DdpmScheduler ddpm, Tensor latents, Tensor optimizedEmbedding, Tensor unconditional,
        ImagicOptions options, ulong seed, ulong loraSeed, IReadOnlyDictionary<string, Tensor>? state = null)
        : base("stage B", unet, ddpm, latents, options.FinetuneSteps, new StageObjective(options.FinetuneBatch, options.TimestepSampling), seed)
    {
        using var loraGenerator = new Generator(loraSeed, latents.device);
        _tuning = UNetFineTuning.Begin(unet, options.FineTuneSettings, options.StageBLearningRate, loraGenerator);
        _context = (options.FinetuneUnconditional
            ? torch.cat(new[] { optimizedEmbedding.detach(), unconditional.detach() })
            : optimizedEmbedding.detach().clone()).DetachFromDisposeScope();
        try
        {
            if (state is not null) ImportState(state);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private protected override Adam Optimizer => _tuning.Optimizer;
    private protected override Tensor Context => _context;

    string Prefix => _tuning.Lora is null ? "unet." : "lora.";

    // Views of the live weights, not copies: at Stable Diffusion size a copy of the UNet is gigabytes, and the
    // state is written out before training goes on.
    private protected override IEnumerable<KeyValuePair<string, Tensor>> ExportTrained() =>
        _tuning.Trainable.Select(p => KeyValuePair.Create(Prefix + p.Name, p.Param.detach()));

    private protected override void ImportTrained(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = torch.no_grad();
        foreach (var (name, param) in _tuning.Trainable)
        {
            if (!state.TryGetValue(Prefix + name, out var value))
                throw new ImagicException($"Cannot resume {Name}: its checkpoint has no '{Prefix + name}' (was it made with other stage B settings?).");
            if (!value.shape.SequenceEqual(param.shape))
                throw new ImagicException($"Cannot resume {Name}: '{Prefix + name}' has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", param.shape)}].");
            param.copy_(value);
        }
    }

    /// <summary>Ends training successfully: LoRA adapters are merged into the base weights.</summary>
    public void Complete() => _tuning.Complete();

    /// <summary>Leaves the UNet frozen, without checkpointing and without unmerged adapters.</summary>
    public override void Dispose()
    {
        _tuning.Dispose();
        _context.Dispose();
        base.Dispose();
    }
}
