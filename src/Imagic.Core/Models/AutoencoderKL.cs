using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>diffusers' <c>AutoencoderKL</c> config (<c>vae/config.json</c>); defaults are diffusers'.</summary>
public sealed record AutoencoderKLConfig
{
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;
    [JsonPropertyName("down_block_types")] public string[] DownBlockTypes { get; init; } = { "DownEncoderBlock2D" };
    [JsonPropertyName("up_block_types")] public string[] UpBlockTypes { get; init; } = { "UpDecoderBlock2D" };
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = { 64 };
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 1;
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 4;
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("sample_size")] public int SampleSize { get; init; } = 32;

    /// <summary>Latents are multiplied by this before the UNet sees them (SD: 0.18215).</summary>
    [JsonPropertyName("scaling_factor")] public double ScalingFactor { get; init; } = 0.18215;

    /// <summary>Pixel-to-latent side ratio: 2^(number of blocks − 1), 8 for SD.</summary>
    public int DownsampleFactor => 1 << (BlockOutChannels.Length - 1);

    public static AutoencoderKLConfig FromFile(string path)
    {
        var c = ModelConfigJson.Read<AutoencoderKLConfig>(path);
        foreach (var t in c.DownBlockTypes)
            if (t != "DownEncoderBlock2D") throw new ImagicException($"{path}: down block type '{t}' is not supported (DownEncoderBlock2D is).");
        foreach (var t in c.UpBlockTypes)
            if (t != "UpDecoderBlock2D") throw new ImagicException($"{path}: up block type '{t}' is not supported (UpDecoderBlock2D is).");
        if (c.DownBlockTypes.Length != c.BlockOutChannels.Length || c.UpBlockTypes.Length != c.BlockOutChannels.Length)
            throw new ImagicException($"{path}: down_block_types, up_block_types and block_out_channels must have the same length.");
        Layers.CheckActivation(c.ActFn, path);
        return c;
    }
}

/// <summary>The VAE posterior: a diagonal Gaussian over latents.</summary>
public sealed record DiagonalGaussian(Tensor Mean, Tensor LogVar)
{
    public Tensor Std => torch.exp(LogVar.Times(0.5));

    /// <summary>mean + std·ε with ε drawn from <paramref name="generator"/>.</summary>
    public Tensor Sample(Generator? generator = null) =>
        Mean.Plus(Std * torch.randn(Mean.shape, dtype: Mean.dtype, device: Mean.device, generator: generator));
}

/// <summary>diffusers' <c>UNetMidBlock2D</c> as the VAE uses it: resnet, single-head self-attention, resnet.</summary>
public sealed class VaeMidBlock : Module
{
    public readonly ModuleList<Attention> attentions;
    public readonly ModuleList<ResnetBlock2D> resnets;

    public VaeMidBlock(int channels, int groups, string act) : base("UNetMidBlock2D")
    {
        resnets = new ModuleList<ResnetBlock2D>(
            new ResnetBlock2D(channels, channels, null, groups, 1e-6, act),
            new ResnetBlock2D(channels, channels, null, groups, 1e-6, act));
        // attention_head_dim = channels, so one head spanning every channel.
        attentions = new ModuleList<Attention>(new Attention(channels, null, 1, channels, bias: true, normGroups: groups, normEps: 1e-6));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) =>
        resnets[0].Forward(x, null).ConsumedBy(t => attentions[0].Forward(t)).ConsumedBy(t => resnets[1].Forward(t, null));
}

/// <summary>diffusers' <c>DownEncoderBlock2D</c> / <c>UpDecoderBlock2D</c>: resnets and an optional resampler.</summary>
public sealed class VaeBlock : Module
{
    public readonly ModuleList<ResnetBlock2D> resnets;
    public readonly ModuleList<Downsample2D>? downsamplers;
    public readonly ModuleList<Upsample2D>? upsamplers;

    public VaeBlock(int layers, int inChannels, int outChannels, int groups, string act, bool downsample, bool upsample)
        : base(downsample ? "DownEncoderBlock2D" : "UpDecoderBlock2D")
    {
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6, act)).ToArray());
        if (downsample) downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, padding: 0));
        if (upsample) upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels));
        RegisterComponents();
    }

    /// <summary>Frees each intermediate state once the next exists; <paramref name="input"/> stays the caller's.</summary>
    public Tensor Forward(Tensor input)
    {
        var x = resnets[0].Forward(input, null);
        foreach (var r in resnets.Skip(1)) x = x.ConsumedBy(t => r.Forward(t, null));
        if (downsamplers is not null) x = x.ConsumedBy(downsamplers[0].Forward);
        if (upsamplers is not null) x = x.ConsumedBy(t => upsamplers[0].Forward(t));
        return x;
    }
}

/// <summary>The VAE encoder: image → 2·latent_channels moments (mean and log-variance).</summary>
public sealed class VaeEncoder : Module<Tensor, Tensor>
{
    public readonly Conv2d conv_in;
    public readonly ModuleList<VaeBlock> down_blocks;
    public readonly VaeMidBlock mid_block;
    public readonly GroupNorm conv_norm_out;
    public readonly Conv2d conv_out;
    readonly string _act;

    public VaeEncoder(AutoencoderKLConfig c) : base("Encoder")
    {
        _act = c.ActFn;
        var ch = c.BlockOutChannels;
        conv_in = Layers.Conv(c.InChannels, ch[0], 3);
        down_blocks = new ModuleList<VaeBlock>(Enumerable.Range(0, ch.Length).Select(i =>
            new VaeBlock(c.LayersPerBlock, i == 0 ? ch[0] : ch[i - 1], ch[i], c.NormNumGroups, c.ActFn,
                downsample: i < ch.Length - 1, upsample: false)).ToArray());
        mid_block = new VaeMidBlock(ch[^1], c.NormNumGroups, c.ActFn);
        conv_norm_out = Layers.GroupNorm(c.NormNumGroups, ch[^1], 1e-6);
        conv_out = Layers.Conv(ch[^1], 2 * c.LatentChannels, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor image)
    {
        var x = conv_in.Convolve(image);
        foreach (var b in down_blocks) x = x.ConsumedBy(b.Forward);
        return x.ConsumedBy(mid_block.Forward).ConsumedBy(conv_norm_out.call).ConsumedBy(t => Layers.ActivateConsumed(_act, t))
            .ConsumedBy(conv_out.Convolve);
    }
}

/// <summary>The VAE decoder: latents → image in [-1, 1] (unclamped).</summary>
public sealed class VaeDecoder : Module<Tensor, Tensor>
{
    public readonly Conv2d conv_in;
    public readonly VaeMidBlock mid_block;
    public readonly ModuleList<VaeBlock> up_blocks;
    public readonly GroupNorm conv_norm_out;
    public readonly Conv2d conv_out;
    readonly string _act;

    public VaeDecoder(AutoencoderKLConfig c) : base("Decoder")
    {
        _act = c.ActFn;
        var rch = c.BlockOutChannels.Reverse().ToArray();
        conv_in = Layers.Conv(c.LatentChannels, rch[0], 3);
        mid_block = new VaeMidBlock(rch[0], c.NormNumGroups, c.ActFn);
        up_blocks = new ModuleList<VaeBlock>(Enumerable.Range(0, rch.Length).Select(i =>
            new VaeBlock(c.LayersPerBlock + 1, i == 0 ? rch[0] : rch[i - 1], rch[i], c.NormNumGroups, c.ActFn,
                downsample: false, upsample: i < rch.Length - 1)).ToArray());
        conv_norm_out = Layers.GroupNorm(c.NormNumGroups, rch[^1], 1e-6);
        conv_out = Layers.Conv(rch[^1], c.OutChannels, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor z)
    {
        var x = conv_in.Convolve(z).ConsumedBy(mid_block.Forward);
        foreach (var b in up_blocks) x = x.ConsumedBy(b.Forward);
        return x.ConsumedBy(conv_norm_out.call).ConsumedBy(t => Layers.ActivateConsumed(_act, t)).ConsumedBy(conv_out.Convolve);
    }
}

/// <summary>
/// The KL-regularised autoencoder of Stable Diffusion: <see cref="Encode"/> gives the posterior over
/// latents, <see cref="Decode"/> maps latents back to pixels. Scaling by <c>scaling_factor</c> is the
/// caller's job, as in diffusers.
/// </summary>
public sealed class AutoencoderKL : Module
{
    public readonly VaeEncoder encoder;
    public readonly VaeDecoder decoder;
    public readonly Conv2d quant_conv;
    public readonly Conv2d post_quant_conv;

    public AutoencoderKLConfig Config { get; }

    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        Config = config;
        encoder = new VaeEncoder(config);
        decoder = new VaeDecoder(config);
        quant_conv = Layers.Conv(2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        post_quant_conv = Layers.Conv(config.LatentChannels, config.LatentChannels, 1);
        RegisterComponents();
    }

    /// <summary>Image [B, 3, H, W] in [-1, 1] → posterior over latents [B, C, H/8, W/8].</summary>
    public DiagonalGaussian Encode(Tensor image)
    {
        using var scope = torch.NewDisposeScope();
        var moments = encoder.call(image).ConsumedBy(quant_conv.Convolve).chunk(2, dim: 1);
        var mean = moments[0].contiguous();
        var logvar = moments[1].ClampTo(-30.0, 20.0);
        return new DiagonalGaussian(mean.MoveToOuterDisposeScope(), logvar.MoveToOuterDisposeScope());
    }

    /// <summary>Latents (already divided by the scaling factor) → image in about [-1, 1].</summary>
    public Tensor Decode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        return post_quant_conv.Convolve(latents).ConsumedBy(decoder.call).MoveToOuterDisposeScope();
    }
}
