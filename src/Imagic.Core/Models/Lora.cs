using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>
/// A LoRA adapter (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models") for one
/// <see cref="TorchSharp.Modules.Linear"/> layer W: the layer computes W·x + (α/r)·B·(A·x), with A = <see cref="down"/>
/// [r, in] and B = <see cref="up"/> [out, r]. B starts at zero, so a fresh adapter changes nothing.
/// </summary>
/// <remarks>Initialisation as diffusers' <c>LoRALinearLayer</c>: A ~ N(0, (1/r)²), B = 0.</remarks>
public sealed class LoraLinear : Module<Tensor, Tensor>
{
    /// <summary>A: [rank, in_features].</summary>
    public readonly Parameter down;

    /// <summary>B: [out_features, rank], zero at initialisation.</summary>
    public readonly Parameter up;

    /// <summary>The low-rank update's factor α/r.</summary>
    public double Scale { get; }

    public int Rank => (int)down.shape[0];

    /// <param name="target">The layer adapted; the adapter takes its shape, dtype and device.</param>
    /// <param name="rank">r, the rank of the update.</param>
    /// <param name="alpha">α; the update is scaled by α/r.</param>
    /// <param name="generator">Draws A, so that an edit is reproducible from its seed.</param>
    public LoraLinear(Linear target, int rank, double alpha, Generator generator) : base(nameof(LoraLinear))
    {
        if (rank < 1) throw new ImagicException($"The LoRA rank must be at least 1, got {rank}.");
        var weight = target.weight!;
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        if (rank > Math.Min(inFeatures, outFeatures))
            throw new ImagicException($"The LoRA rank {rank} exceeds the layer's size [{outFeatures}, {inFeatures}].");
        Scale = alpha / rank;
        using (torch.no_grad())
        {
            // Out of any dispose scope: a Parameter takes its data's place in the scope, which would free
            // the adapter at the end of the caller's step.
            using var initScale = (1.0 / rank).ToScalar();
            var a = torch.randn(new[] { (long)rank, inFeatures }, dtype: weight.dtype, device: weight.device, generator: generator)
                .mul_(initScale).DetachFromDisposeScope();
            var b = torch.zeros(new[] { outFeatures, (long)rank }, dtype: weight.dtype, device: weight.device).DetachFromDisposeScope();
            down = new Parameter(a, requires_grad: true);
            up = new Parameter(b, requires_grad: true);
        }
        RegisterComponents();
    }

    /// <summary>The adapter's contribution (α/r)·B·A·x, to be added to the base layer's output.</summary>
    public override Tensor forward(Tensor x) => functional.linear(functional.linear(x, down), up).Times(Scale);

    /// <summary>The update to the base weight, (α/r)·B·A [out, in]: merging adds it to W.</summary>
    public Tensor WeightDelta() => up.matmul(down).Times(Scale);
}

/// <summary>The four adapters of one <see cref="Attention"/>: on <c>to_q</c>, <c>to_k</c>, <c>to_v</c> and <c>to_out.0</c>.</summary>
public sealed record AttentionLora(LoraLinear Q, LoraLinear K, LoraLinear V, LoraLinear Out)
{
    public IEnumerable<(string Projection, LoraLinear Adapter)> Named() =>
        new[] { ("to_q", Q), ("to_k", K), ("to_v", V), ("to_out.0", Out) };
}

/// <summary>
/// LoRA on the attention projections of every transformer block of a UNet (self- and cross-attention):
/// a parameter-efficient alternative to fine-tuning all weights. The adapters are not registered as
/// children of the model, so its state dict keeps exactly the base checkpoint's keys; <see cref="Merge"/>
/// folds them into the base weights, after which the UNet is a plain UNet again.
/// </summary>
/// <remarks>
/// Used by Imagic's stage B when <c>finetune_method</c> is <c>lora</c>, a variant of the paper, which
/// fine-tunes every weight. Adapter names follow the base layer's key with <c>.lora_down.weight</c> and
/// <c>.lora_up.weight</c> appended.
/// </remarks>
public sealed class LoraAdapters : IDisposable
{
    readonly List<(string Path, Attention Attention, AttentionLora Lora)> _attached = new();

    public int Rank { get; }
    public double Alpha { get; }

    LoraAdapters(int rank, double alpha)
    {
        Rank = rank;
        Alpha = alpha;
    }

    /// <summary>Attaches fresh adapters (zero update) to every attention layer of <paramref name="unet"/>.</summary>
    /// <param name="rank">r. Imagic's default is 4.</param>
    /// <param name="alpha">α; α = r gives the update a scale of 1.</param>
    /// <param name="generator">Draws the A matrices, in module order.</param>
    public static LoraAdapters Attach(UNet2DConditionModel unet, int rank, double alpha, Generator generator)
    {
        var adapters = new LoraAdapters(rank, alpha);
        try
        {
            foreach (var (path, module) in unet.named_modules())
            {
                if (module is not Attention attention) continue;
                if (attention.Lora is not null)
                    throw new ImagicException($"{path} already has LoRA adapters; merge or remove them first.");
                var lora = new AttentionLora(
                    new LoraLinear(attention.to_q, rank, alpha, generator),
                    new LoraLinear(attention.to_k, rank, alpha, generator),
                    new LoraLinear(attention.to_v, rank, alpha, generator),
                    new LoraLinear((Linear)attention.to_out[0], rank, alpha, generator));
                attention.Lora = lora;
                adapters._attached.Add((path, attention, lora));
            }
        }
        catch
        {
            adapters.Dispose();
            throw;
        }
        if (adapters._attached.Count == 0)
            throw new ImagicException("The UNet has no attention layers to put LoRA adapters on.");
        return adapters;
    }

    /// <summary>Every adapter weight by name, e.g. <c>down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_down.weight</c>.</summary>
    public IReadOnlyList<(string Name, Tensor Parameter)> NamedParameters() =>
        _attached.SelectMany(a => a.Lora.Named().SelectMany(n => new (string, Tensor)[]
        {
            ($"{a.Path}.{n.Projection}.lora_down.weight", n.Adapter.down),
            ($"{a.Path}.{n.Projection}.lora_up.weight", n.Adapter.up),
        })).ToList();

    /// <summary>Total number of adapter weights (what LoRA trains).</summary>
    public long ParameterCount => NamedParameters().Sum(p => p.Parameter.numel());

    /// <summary>Copies of the adapter weights, e.g. for a checkpoint.</summary>
    public Dictionary<string, Tensor> ExportState() =>
        NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.detach().clone(), StringComparer.Ordinal);

    /// <summary>Restores weights written by <see cref="ExportState"/>; every adapter must be present with its shape.</summary>
    public void ImportState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = torch.no_grad();
        foreach (var (name, p) in NamedParameters())
        {
            if (!state.TryGetValue(name, out var value))
                throw new ImagicException($"The LoRA checkpoint has no '{name}' (was it saved with another rank or model?).");
            if (!value.shape.SequenceEqual(p.shape))
                throw new ImagicException($"The LoRA checkpoint's '{name}' has shape [{string.Join(", ", value.shape)}], " +
                    $"expected [{string.Join(", ", p.shape)}] (rank {Rank}).");
            p.copy_(value);
        }
    }

    /// <summary>
    /// Folds every adapter into its base weight (W ← W + (α/r)·B·A) and removes the adapters: the UNet
    /// then computes what it computed with them, as a plain UNet whose weights save and load as usual.
    /// </summary>
    public void Merge()
    {
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
            foreach (var (_, attention, lora) in _attached)
            {
                attention.to_q.weight!.PlusInPlace(lora.Q.WeightDelta());
                attention.to_k.weight!.PlusInPlace(lora.K.WeightDelta());
                attention.to_v.weight!.PlusInPlace(lora.V.WeightDelta());
                ((Linear)attention.to_out[0]).weight!.PlusInPlace(lora.Out.WeightDelta());
            }
        Dispose();
    }

    /// <summary>Removes the adapters without merging them: the UNet is back to its base weights.</summary>
    public void Dispose()
    {
        foreach (var (_, attention, lora) in _attached)
        {
            if (ReferenceEquals(attention.Lora, lora))
                attention.Lora = null;
            foreach (var (_, adapter) in lora.Named())
                adapter.Dispose();
        }
        _attached.Clear();
    }
}
