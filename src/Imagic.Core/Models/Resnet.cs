using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>
/// diffusers' <c>ResnetBlock2D</c> with <c>time_embedding_norm="default"</c>:
/// GroupNorm → act → conv → (+ time projection) → GroupNorm → act → conv, plus a 1×1 shortcut when
/// the channel count changes. The VAE uses it without a time embedding.
/// </summary>
public sealed class ResnetBlock2D : Module
{
    public readonly GroupNorm norm1;
    public readonly Conv2d conv1;
    public readonly Linear? time_emb_proj;
    public readonly GroupNorm norm2;
    public readonly Conv2d conv2;
    public readonly Conv2d? conv_shortcut;

    readonly string _act;
    readonly double _outputScale;

    public ResnetBlock2D(int inChannels, int outChannels, int? tembChannels, int groups, double eps,
        string act = "silu", double outputScaleFactor = 1.0) : base(nameof(ResnetBlock2D))
    {
        _act = act;
        _outputScale = outputScaleFactor;
        norm1 = Layers.GroupNorm(groups, inChannels, eps);
        conv1 = Layers.Conv(inChannels, outChannels, 3);
        if (tembChannels is int t)
            time_emb_proj = nn.Linear(t, outChannels);
        norm2 = Layers.GroupNorm(groups, outChannels, eps);
        conv2 = Layers.Conv(outChannels, outChannels, 3);
        if (inChannels != outChannels)
            conv_shortcut = Layers.Conv(inChannels, outChannels, 1);
        RegisterComponents();
    }

    /// <remarks>
    /// Each intermediate is freed as soon as the next one exists (autograd keeps what backward needs), so at most
    /// two feature maps besides <paramref name="x"/> are alive at once: at 512 px in the VAE each is 128-256 MB.
    /// </remarks>
    public Tensor Forward(Tensor x, Tensor? temb)
    {
        using var scope = torch.NewDisposeScope();
        var h = norm1.call(x).ConsumedBy(t => Layers.ActivateConsumed(_act, t)).ConsumedBy(conv1.Convolve);
        if (time_emb_proj is not null && temb is not null)
        {
            var t = time_emb_proj.call(Layers.Activate(_act, temb)).unsqueeze(-1).unsqueeze(-1);
            h = h.ConsumedBy(v => v.Plus(t));
        }
        h = h.ConsumedBy(norm2.call).ConsumedBy(t => Layers.ActivateConsumed(_act, t)).ConsumedBy(conv2.Convolve);
        var skip = conv_shortcut is null ? x : conv_shortcut.Convolve(x);
        var y = h.ConsumedBy(skip.Plus);
        if (_outputScale != 1.0)
        {
            // An explicit Scalar: one converted implicitly is left to the finalizer, which can free it while libtorch reads it.
            using var scale = _outputScale.ToScalar();
            y = y.ConsumedBy(v => v / scale);
        }
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>Downsample2D</c> with a strided 3×3 convolution (key <c>conv</c>).</summary>
public sealed class Downsample2D : Module
{
    public readonly Conv2d conv;
    readonly int _padding;

    /// <param name="padding">1 in the UNet; 0 in the VAE, which pads right and bottom by one instead.</param>
    public Downsample2D(int channels, int padding) : base(nameof(Downsample2D))
    {
        _padding = padding;
        conv = Layers.Conv(channels, channels, 3, stride: 2, padding: padding);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        if (_padding == 0)
            return functional.pad(x, new long[] { 0, 1, 0, 1 }, PaddingModes.Constant, 0).ConsumedBy(conv.Convolve);
        return conv.Convolve(x);
    }
}

/// <summary>diffusers' <c>Upsample2D</c>: nearest-neighbour ×2 (or to a given size), then a 3×3 conv.</summary>
public sealed class Upsample2D : Module
{
    public readonly Conv2d conv;

    public Upsample2D(int channels) : base(nameof(Upsample2D))
    {
        conv = Layers.Conv(channels, channels, 3);
        RegisterComponents();
    }

    /// <param name="size">Target [H, W]; the skip connection's size when the input was odd-sized.</param>
    public Tensor Forward(Tensor x, long[]? size = null)
    {
        var up = size is null
            ? functional.interpolate(x, scale_factor: new double[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest)
            : functional.interpolate(x, size: size, mode: InterpolationMode.Nearest);
        return up.ConsumedBy(conv.Convolve);
    }
}
