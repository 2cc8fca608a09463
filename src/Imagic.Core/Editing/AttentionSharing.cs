using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// Stage C: the edits attend with the layout of the reconstruction. A sampling run of η = 0 is recorded: the queries and
/// keys of every self-attention layer of the UNet at each of its first <see cref="Steps"/> steps. Later sampling runs
/// replay them: at those steps each self-attention layer computes softmax(q₀·k₀ᵀ/√d)·v, with q₀ and k₀ the recording's and
/// v the run's own, so every sample keeps the reconstruction's spatial arrangement while its cross-attention to the text
/// changes what fills it. Plug-and-Play (Tumanyan et al., CVPR 2023) and Prompt-to-Prompt (Hertz et al., ICLR 2023)
/// share self-attention between a source and an edit in the same way. Not in the Imagic paper.
/// </summary>
public sealed class AttentionSharing : IDisposable
{
    readonly Attention[] _layers;
    readonly List<(Tensor Q, Tensor K)> _recorded = new();
    int _call;
    int _samples = 1; // samples of the run being replayed

    /// <summary>The sampling steps, from the first, at which self-attention is shared.</summary>
    public int Steps { get; }

    /// <summary>Layer calls in the shared steps: every UNet forward calls each self-attention layer once.</summary>
    int SharedCalls => Steps * _layers.Length;

    public AttentionSharing(UNet2DConditionModel unet, int steps)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps));
        _layers = SelfAttentionLayers(unet);
        Steps = steps;
    }

    /// <summary>The self-attention layers of the UNet's transformer blocks (<c>attn1</c>), in the order a forward calls them.</summary>
    public static Attention[] SelfAttentionLayers(UNet2DConditionModel unet) =>
        unet.named_modules().Where(m => m.name.EndsWith(".attn1", StringComparison.Ordinal)).Select(m => (Attention)m.module).ToArray();

    /// <summary>Whether a recording is held.</summary>
    public bool HasRecording => _recorded.Count > 0;

    /// <summary>Until disposed, the UNet's sampling runs are recorded (the earlier recording is dropped): run η = 0 inside.</summary>
    public IDisposable Record()
    {
        Clear();
        return Install(RecordCore);
    }

    /// <summary>
    /// Until disposed, the UNet's sampling runs replay the recording; one <see cref="Replay"/> per sampling run of
    /// <paramref name="samples"/> samples (with guidance, the UNet sees twice as many).
    /// </summary>
    public IDisposable Replay(int samples)
    {
        if (!HasRecording && Steps > 0) throw new InvalidOperationException("Nothing recorded to replay.");
        _samples = samples;
        return Install(ReplayCore);
    }

    IDisposable Install(Func<Tensor, Tensor, Tensor, Tensor> core)
    {
        foreach (var layer in _layers)
        {
            if (layer.Core is not null) throw new InvalidOperationException("A self-attention layer already has a core.");
            layer.Core = core;
        }
        _call = 0;
        return new Uninstall(_layers);
    }

    sealed class Uninstall(Attention[] layers) : IDisposable
    {
        public void Dispose()
        {
            foreach (var layer in layers) layer.Core = null;
        }
    }

    Tensor RecordCore(Tensor q, Tensor k, Tensor v)
    {
        if (_call++ < SharedCalls)
            _recorded.Add((q.detach().clone().DetachFromDisposeScope(), k.detach().clone().DetachFromDisposeScope()));
        return nn.functional.scaled_dot_product_attention(q, k, v);
    }

    Tensor ReplayCore(Tensor q, Tensor k, Tensor v)
    {
        int call = _call++;
        if (call >= SharedCalls || call >= _recorded.Count)
            return nn.functional.scaled_dot_product_attention(q, k, v);
        using var scope = torch.NewDisposeScope();
        var (q0, k0) = _recorded[call];
        return nn.functional.scaled_dot_product_attention(Spread(q0, q.shape, _samples), Spread(k0, k.shape, _samples), v).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The recorded <paramref name="source"/> [G₀, H, N, d] (one sample: G₀ = 2 with guidance's unconditional and
    /// conditional halves, 1 without) laid over a batch of <paramref name="shape"/> [B, H, N, d] of
    /// <paramref name="samples"/> samples: each half takes its own row when both are guided or both are not; otherwise
    /// every sample takes the recording's last (conditional) row.
    /// </summary>
    static Tensor Spread(Tensor source, long[] shape, int samples)
    {
        long groups = source.shape[0], batch = shape[0];
        if (groups > 1 && batch == groups * samples)
            return source.unsqueeze(1).expand(new[] { groups, (long)samples }.Concat(shape.Skip(1)).ToArray()).reshape(shape);
        return source.narrow(0, groups - 1, 1).expand(shape);
    }

    void Clear()
    {
        foreach (var (q, k) in _recorded) { q.Dispose(); k.Dispose(); }
        _recorded.Clear();
    }

    public void Dispose()
    {
        Clear();
        foreach (var layer in _layers) layer.Core = null;
    }
}
