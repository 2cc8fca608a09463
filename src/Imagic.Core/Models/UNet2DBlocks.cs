using Imagic.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>Settings every attention block of one UNet shares.</summary>
internal sealed record UNetBlockSettings(int TembChannels, int Groups, double Eps, string Act,
    int CrossAttentionDim, bool UseLinearProjection);

internal static class UNetBlockParts
{
    /// <summary>One transformer per resnet of a block, each with <paramref name="heads"/> heads over <paramref name="channels"/>.</summary>
    public static ModuleList<Transformer2DModel> Transformers(int count, int channels, UNetBlockSettings s, int heads, int transformerLayers) =>
        new(Enumerable.Range(0, count)
            .Select(_ => new Transformer2DModel(heads, channels / heads, channels, transformerLayers, s.CrossAttentionDim, s.Groups, s.UseLinearProjection))
            .ToArray());
}

/// <summary>
/// The resnet and transformer calls of the UNet blocks, through <see cref="GradientCheckpoint"/> when one is
/// given (the granularity diffusers checkpoints at). Each body takes every tensor that may need a gradient
/// as an argument (never by closure), so temb and the text context keep their gradients too.
/// </summary>
internal static class BlockCalls
{
    public static Tensor Resnet(ResnetBlock2D resnet, Tensor x, Tensor temb, GradientCheckpoint? checkpoint) => checkpoint is null
        ? resnet.Forward(x, temb)
        : checkpoint.Run(xs => resnet.Forward(xs[0], xs[1]), new[] { x, temb }, resnet.parameters());

    /// <summary>A decoder resnet on [x, skip]; checkpointed, the concatenation is recomputed rather than kept.</summary>
    public static Tensor Resnet(ResnetBlock2D resnet, Tensor x, Tensor skip, Tensor temb, GradientCheckpoint? checkpoint) => checkpoint is null
        ? torch.cat(new[] { x, skip }, dim: 1).ConsumedBy(joined => resnet.Forward(joined, temb))
        : checkpoint.Run(xs => resnet.Forward(torch.cat(new[] { xs[0], xs[1] }, dim: 1), xs[2]), new[] { x, skip, temb },
            resnet.parameters());

    public static Tensor Transformer(Transformer2DModel transformer, Tensor x, Tensor context, GradientCheckpoint? checkpoint) =>
        checkpoint is null
            ? transformer.Forward(x, context)
            : checkpoint.Run(xs => transformer.Forward(xs[0], xs[1]), new[] { x, context }, transformer.ParametersWithAdapters());
}

/// <summary>
/// A UNet encoder stage: resnets (each optionally followed by a transformer) and an optional
/// strided-conv downsampler. <see cref="CrossAttnDownBlock2D"/> and <see cref="DownBlock2D"/>
/// differ only in whether <c>attentions</c> exists, which is what their checkpoint keys show.
/// </summary>
public abstract class UNetDownBlock : Module
{
    public readonly ModuleList<ResnetBlock2D> resnets;
    public readonly ModuleList<Transformer2DModel>? attentions;
    public readonly ModuleList<Downsample2D>? downsamplers;

    private protected UNetDownBlock(string name, int layers, int inChannels, int outChannels, bool addDownsample,
        int downsamplePadding, UNetBlockSettings s, int heads, int transformerLayers, bool withAttention) : base(name)
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, s.TembChannels, s.Groups, s.Eps, s.Act))
            .ToArray());
        if (withAttention)
            attentions = UNetBlockParts.Transformers(layers, outChannels, s, heads, transformerLayers);
        if (addDownsample)
            downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, downsamplePadding));
        RegisterComponents();
    }

    /// <summary>Runs the stage, appending every intermediate state to <paramref name="skips"/> for the decoder.</summary>
    /// <param name="checkpoint">If set, checkpoints each resnet and transformer through it. Default null (none).</param>
    public Tensor Forward(Tensor x, Tensor temb, Tensor context, List<Tensor> skips, GradientCheckpoint? checkpoint = null)
    {
        for (int i = 0; i < resnets.Count; i++)
        {
            x = BlockCalls.Resnet(resnets[i], x, temb, checkpoint);
            if (attentions is not null)
                x = BlockCalls.Transformer(attentions[i], x, context, checkpoint);
            skips.Add(x);
        }
        if (downsamplers is not null)
        {
            x = downsamplers[0].Forward(x);
            skips.Add(x);
        }
        return x;
    }
}

public sealed class CrossAttnDownBlock2D : UNetDownBlock
{
    internal CrossAttnDownBlock2D(int layers, int inChannels, int outChannels, bool addDownsample, int downsamplePadding,
        UNetBlockSettings s, int heads, int transformerLayers)
        : base(nameof(CrossAttnDownBlock2D), layers, inChannels, outChannels, addDownsample, downsamplePadding, s, heads, transformerLayers, true) { }
}

public sealed class DownBlock2D : UNetDownBlock
{
    internal DownBlock2D(int layers, int inChannels, int outChannels, bool addDownsample, int downsamplePadding, UNetBlockSettings s)
        : base(nameof(DownBlock2D), layers, inChannels, outChannels, addDownsample, downsamplePadding, s, 1, 1, false) { }
}

/// <summary>
/// A UNet decoder stage: each resnet takes the previous state concatenated with one skip connection
/// (consumed last-in, first-out), optionally followed by a transformer; then an optional upsampler.
/// </summary>
public abstract class UNetUpBlock : Module
{
    public readonly ModuleList<ResnetBlock2D> resnets;
    public readonly ModuleList<Transformer2DModel>? attentions;
    public readonly ModuleList<Upsample2D>? upsamplers;

    private protected UNetUpBlock(string name, int layers, int inChannels, int prevOutputChannels, int outChannels,
        bool addUpsample, UNetBlockSettings s, int heads, int transformerLayers, bool withAttention) : base(name)
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers).Select(i =>
        {
            int skipChannels = i == layers - 1 ? inChannels : outChannels;
            int resnetIn = i == 0 ? prevOutputChannels : outChannels;
            return new ResnetBlock2D(resnetIn + skipChannels, outChannels, s.TembChannels, s.Groups, s.Eps, s.Act);
        }).ToArray());
        if (withAttention)
            attentions = UNetBlockParts.Transformers(layers, outChannels, s, heads, transformerLayers);
        if (addUpsample)
            upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels));
        RegisterComponents();
    }

    /// <summary>
    /// Runs the stage, popping one skip per resnet from the end of <paramref name="skips"/>. Each popped skip and each
    /// intermediate state is freed once used (autograd keeps what backward needs); <paramref name="input"/> stays the
    /// caller's.
    /// </summary>
    /// <param name="checkpoint">If set, checkpoints each resnet and transformer through it. Default null (none).</param>
    public Tensor Forward(Tensor input, Tensor temb, Tensor context, List<Tensor> skips, GradientCheckpoint? checkpoint = null)
    {
        var x = input;
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            var next = BlockCalls.Resnet(resnets[i], x, skip, temb, checkpoint);
            skip.Dispose();
            if (!ReferenceEquals(x, input)) x.Dispose();
            x = next;
            if (attentions is not null)
                x = x.ConsumedBy(t => BlockCalls.Transformer(attentions[i], t, context, checkpoint));
        }
        if (upsamplers is not null)
        {
            // Upsample to the next skip's size, which also covers inputs whose side is not a power of two.
            long[]? size = skips.Count > 0 ? new[] { skips[^1].shape[2], skips[^1].shape[3] } : null;
            x = x.ConsumedBy(t => upsamplers[0].Forward(t, size));
        }
        return x;
    }
}

public sealed class CrossAttnUpBlock2D : UNetUpBlock
{
    internal CrossAttnUpBlock2D(int layers, int inChannels, int prevOutputChannels, int outChannels, bool addUpsample,
        UNetBlockSettings s, int heads, int transformerLayers)
        : base(nameof(CrossAttnUpBlock2D), layers, inChannels, prevOutputChannels, outChannels, addUpsample, s, heads, transformerLayers, true) { }
}

public sealed class UpBlock2D : UNetUpBlock
{
    internal UpBlock2D(int layers, int inChannels, int prevOutputChannels, int outChannels, bool addUpsample, UNetBlockSettings s)
        : base(nameof(UpBlock2D), layers, inChannels, prevOutputChannels, outChannels, addUpsample, s, 1, 1, false) { }
}

/// <summary>diffusers' <c>UNetMidBlock2DCrossAttn</c>: resnet, then (transformer, resnet) pairs.</summary>
public sealed class UNetMidBlock2DCrossAttn : Module
{
    public readonly ModuleList<Transformer2DModel> attentions;
    public readonly ModuleList<ResnetBlock2D> resnets;

    internal UNetMidBlock2DCrossAttn(int channels, UNetBlockSettings s, int heads, int transformerLayers, double outputScale)
        : base(nameof(UNetMidBlock2DCrossAttn))
    {
        resnets = new ModuleList<ResnetBlock2D>(
            new ResnetBlock2D(channels, channels, s.TembChannels, s.Groups, s.Eps, s.Act, outputScale),
            new ResnetBlock2D(channels, channels, s.TembChannels, s.Groups, s.Eps, s.Act, outputScale));
        attentions = UNetBlockParts.Transformers(1, channels, s, heads, transformerLayers);
        RegisterComponents();
    }

    /// <param name="checkpoint">If set, checkpoints each resnet and the transformer through it. Default null (none).</param>
    public Tensor Forward(Tensor x, Tensor temb, Tensor context, GradientCheckpoint? checkpoint = null)
    {
        x = BlockCalls.Resnet(resnets[0], x, temb, checkpoint);
        x = BlockCalls.Transformer(attentions[0], x, context, checkpoint);
        return BlockCalls.Resnet(resnets[1], x, temb, checkpoint);
    }
}
