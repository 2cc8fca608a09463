using System.Text.Json.Serialization;
using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>Which weights a UNet fine-tuning trains.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FinetuneMethod>))]
public enum FinetuneMethod
{
    /// <summary>Every UNet weight: Imagic's stage B as in the paper.</summary>
    [JsonStringEnumMemberName("full")] Full,

    /// <summary>
    /// Only LoRA adapters on the attention projections (to_q, to_k, to_v, to_out.0), merged into the
    /// weights afterwards: a parameter-efficient variant of the paper, not the paper's method.
    /// </summary>
    [JsonStringEnumMemberName("lora")] Lora,

    /// <summary>
    /// Every weight of the UNet's decoder half (<see cref="UNetHalf.Decoder"/>: <c>up_blocks</c>, <c>conv_norm_out</c>,
    /// <c>conv_out</c>), the rest frozen, as Forgedit fine-tunes part of the UNet. Backward stops where the decoder starts
    /// (the encoder's skips are constants), so a step costs about 0.78 of a full one on the bundled model.
    /// </summary>
    [JsonStringEnumMemberName("decoder")] Decoder,
}

/// <summary>How to fine-tune a UNet.</summary>
/// <param name="Method">Full fine-tuning, LoRA, or the decoder half only.</param>
/// <param name="LoraRank">r of the LoRA adapters; ignored for <see cref="FinetuneMethod.Full"/>.</param>
/// <param name="LoraAlpha">α of the LoRA adapters (the update is scaled by α/r); ignored for full fine-tuning.</param>
/// <param name="GradientCheckpointing">Recompute block activations in backward instead of keeping them.</param>
public sealed record FineTuneSettings(FinetuneMethod Method, int LoraRank, double LoraAlpha, bool GradientCheckpointing);

/// <summary>
/// A UNet set up for fine-tuning: the trainable tensors (every weight, the decoder's, or fresh LoRA adapters with
/// the base weights frozen), an <see cref="Adam"/> over exactly those, and gradient checkpointing if asked.
/// Disposing leaves the UNet frozen, without checkpointing and without adapters; call
/// <see cref="Complete"/> first to keep what was learned with LoRA (it merges the adapters).
/// </summary>
public sealed class UNetFineTuning : IDisposable
{
    readonly UNet2DConditionModel _unet;

    /// <summary>The optimizer over <see cref="Trainable"/>; its state is keyed by their names.</summary>
    public Adam Optimizer { get; }

    /// <summary>The adapters being trained, or null for full fine-tuning.</summary>
    public LoraAdapters? Lora { get; private set; }

    /// <summary>What is trained, by name: UNet parameter keys, or adapter keys for LoRA.</summary>
    public IReadOnlyList<(string Name, Tensor Param)> Trainable { get; }

    UNetFineTuning(UNet2DConditionModel unet, LoraAdapters? lora, IReadOnlyList<(string, Tensor)> trainable, double learningRate)
    {
        _unet = unet;
        Lora = lora;
        Trainable = trainable;
        Optimizer = new Adam(trainable, learningRate);
    }

    /// <param name="unet">The model to tune in place.</param>
    /// <param name="settings">Method, LoRA rank and α, checkpointing.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="loraGenerator">Draws the adapters' A matrices (unused for full fine-tuning).</param>
    public static UNetFineTuning Begin(UNet2DConditionModel unet, FineTuneSettings settings, double learningRate, Generator loraGenerator)
    {
        LoraAdapters? lora = null;
        IReadOnlyList<(string, Tensor)> trainable;
        if (settings.Method == FinetuneMethod.Lora)
        {
            foreach (var p in unet.parameters()) p.requires_grad = false;
            lora = LoraAdapters.Attach(unet, settings.LoraRank, settings.LoraAlpha, loraGenerator);
            trainable = lora.NamedParameters();
        }
        else
        {
            var part = settings.Method == FinetuneMethod.Decoder ? unet.ParametersOf(UNetHalf.Decoder).Select(p => p.Name).ToHashSet() : null;
            foreach (var (name, p) in unet.named_parameters()) p.requires_grad = part?.Contains(name) ?? true;
            trainable = unet.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, (Tensor)p.parameter)).ToList();
        }
        unet.UseGradientCheckpointing = settings.GradientCheckpointing;
        return new UNetFineTuning(unet, lora, trainable, learningRate);
    }

    /// <summary>Ends training successfully: LoRA adapters are merged into the base weights.</summary>
    public void Complete()
    {
        Lora?.Merge();
        Lora = null;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Lora?.Dispose();
        Lora = null;
        _unet.UseGradientCheckpointing = false;
        foreach (var p in _unet.parameters())
        {
            // Left in place, a full fine-tuning's gradients would hold a UNet's worth of memory through sampling.
            p.grad = null;
            p.requires_grad = false;
        }
    }
}
