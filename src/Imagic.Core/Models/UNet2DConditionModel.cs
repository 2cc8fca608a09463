using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>A half of the UNet: the encoder (its input convolution and down blocks) or the decoder (its up blocks and output layers).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<UNetHalf>))]
public enum UNetHalf
{
    /// <summary>Neither.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("none")] None,

    /// <summary><c>conv_in</c> and <c>down_blocks</c>: where Forgedit finds a fine-tuned UNet keeps the image's layout.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("encoder")] Encoder,

    /// <summary><c>up_blocks</c>, <c>conv_norm_out</c> and <c>conv_out</c>: where it keeps appearance.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("decoder")] Decoder,
}

/// <summary>
/// The text-conditioned denoising UNet of Stable Diffusion 1.x and 2.x, built from a diffusers
/// <c>unet/config.json</c>. Field and block names are the checkpoint keys
/// (<c>down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight</c>).
/// </summary>
/// <remarks>Follows diffusers' <c>unet_2d_condition.py</c> (v0.21) forward pass step by step.</remarks>
public sealed class UNet2DConditionModel : Module
{
    public readonly Conv2d conv_in;
    public readonly TimestepEmbedding time_embedding;
    /// <summary>The pooled-text embedding when <c>addition_embed_type</c> is "text"; null for SD 1.x/2.x.</summary>
    public readonly TextTimeEmbedding? add_embedding;
    public readonly ModuleList<UNetDownBlock> down_blocks;
    public readonly UNetMidBlock2DCrossAttn? mid_block;
    public readonly ModuleList<UNetUpBlock> up_blocks;
    public readonly GroupNorm conv_norm_out;
    public readonly Conv2d conv_out;

    public UNet2DConditionConfig Config { get; }

    /// <summary>
    /// Checkpoint every resnet and transformer of the down, mid and up blocks while gradients are enabled
    /// (see <see cref="Training.GradientCheckpoint"/>): much lower peak memory in training for about one
    /// more forward pass of compute. Gradients are unchanged. No effect under <c>no_grad</c>. Default false.
    /// </summary>
    public bool UseGradientCheckpointing { get; set; }

    public UNet2DConditionModel(UNet2DConditionConfig config) : base(nameof(UNet2DConditionModel))
    {
        Config = config;
        var ch = config.BlockOutChannels;
        int n = ch.Length;
        var heads = config.HeadsPerBlock;
        var tLayers = config.TransformerLayersPerBlock.PerBlock(n, "transformer_layers_per_block");
        var s = new UNetBlockSettings(config.TimeEmbedDim, config.NormNumGroups, config.NormEps, config.ActFn,
            config.CrossAttentionDim, config.UseLinearProjection);

        conv_in = Layers.Conv(config.InChannels + config.CoordinateChannels, ch[0], config.ConvInKernel);
        time_embedding = new TimestepEmbedding(ch[0], config.TimeEmbedDim, config.ActFn);
        if (config.AdditionEmbedType == "text")
            add_embedding = new TextTimeEmbedding(config.CrossAttentionDim, config.TimeEmbedDim, config.AdditionEmbedTypeNumHeads);

        var down = new List<UNetDownBlock>();
        int output = ch[0];
        for (int i = 0; i < n; i++)
        {
            int input = output;
            output = ch[i];
            bool final = i == n - 1;
            down.Add(config.DownBlockTypes[i] == "CrossAttnDownBlock2D"
                ? new CrossAttnDownBlock2D(config.LayersPerBlock, input, output, !final, config.DownsamplePadding, s, heads[i], tLayers[i])
                : new DownBlock2D(config.LayersPerBlock, input, output, !final, config.DownsamplePadding, s));
        }
        down_blocks = new ModuleList<UNetDownBlock>(down.ToArray());

        if (config.MidBlockType is not null)
            mid_block = new UNetMidBlock2DCrossAttn(ch[^1], s, heads[^1], tLayers[^1], config.MidBlockScaleFactor);

        var up = new List<UNetUpBlock>();
        var rch = ch.Reverse().ToArray();
        var rheads = heads.Reverse().ToArray();
        var rLayers = tLayers.Reverse().ToArray();
        output = rch[0];
        for (int i = 0; i < n; i++)
        {
            bool final = i == n - 1;
            int prevOutput = output;
            output = rch[i];
            int input = rch[Math.Min(i + 1, n - 1)];
            up.Add(config.UpBlockTypes[i] == "CrossAttnUpBlock2D"
                ? new CrossAttnUpBlock2D(config.LayersPerBlock + 1, input, prevOutput, output, !final, s, rheads[i], rLayers[i])
                : new UpBlock2D(config.LayersPerBlock + 1, input, prevOutput, output, !final, s));
        }
        up_blocks = new ModuleList<UNetUpBlock>(up.ToArray());

        conv_norm_out = Layers.GroupNorm(config.NormNumGroups, ch[0], config.NormEps);
        conv_out = Layers.Conv(ch[0], config.OutChannels, config.ConvOutKernel);
        RegisterComponents();
    }

    /// <summary>The parameters of one half of the UNet (<see cref="UNetHalf"/>), under their checkpoint names.</summary>
    public IEnumerable<(string Name, Parameter Param)> ParametersOf(UNetHalf half)
    {
        string[] prefixes = half switch
        {
            UNetHalf.Encoder => ["conv_in.", "down_blocks."],
            UNetHalf.Decoder => ["up_blocks.", "conv_norm_out.", "conv_out."],
            _ => [],
        };
        return named_parameters().Where(p => prefixes.Any(x => p.name.StartsWith(x, StringComparison.Ordinal)));
    }

    /// <summary>Predicts noise (or velocity) for <paramref name="sample"/> at <paramref name="timestep"/>.</summary>
    /// <param name="sample">Noisy latents [B, C, H, W].</param>
    /// <param name="timestep">A scalar or one timestep per batch element.</param>
    /// <param name="context">Text embeddings [B, 77, cross_attention_dim].</param>
    public Tensor Forward(Tensor sample, Tensor timestep, Tensor context)
    {
        using var scope = torch.NewDisposeScope();
        long batch = sample.shape[0];

        // 1. time: broadcast the timestep over the batch, sinusoidal features, MLP; plus the pooled text if configured.
        var t = timestep.dim() == 0 ? timestep.expand(batch) : timestep;
        var tFeatures = TimestepFeatures.Embed(t, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift)
            .to_type(sample.dtype);
        var temb = time_embedding.call(tFeatures);
        if (add_embedding is not null)
            temb = temb.Plus(add_embedding.call(context));
        var checkpoint = UseGradientCheckpointing && torch.is_grad_enabled() ? new Training.GradientCheckpoint() : null;

        // 2. pre-process
        if (Config.CenterInputSample)
            sample = sample.Times(2).Minus(1.0);
        if (Config.CoordinateChannels > 0)
            sample = torch.cat(new[] { sample, CoordinateGrid(sample) }, 1);
        var x = conv_in.Convolve(sample);

        // 3. down, keeping every intermediate state as a skip connection
        var skips = new List<Tensor> { x };
        foreach (var block in down_blocks)
            x = block.Forward(x, temb, context, skips, checkpoint);

        // 4. mid
        if (mid_block is not null)
            x = mid_block.Forward(x, temb, context, checkpoint);

        // 5. up, consuming the skips in reverse
        foreach (var block in up_blocks)
            x = block.Forward(x, temb, context, skips, checkpoint);

        // 6. post-process
        x = conv_out.Convolve(Layers.Activate(Config.ActFn, conv_norm_out.call(x)));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>[B, 2, H, W]: x (left −1 … right 1) and y (top −1 … bottom 1) of each cell of <paramref name="sample"/>.</summary>
    static Tensor CoordinateGrid(Tensor sample)
    {
        long height = sample.shape[2], width = sample.shape[3];
        var xs = torch.linspace(-1, 1, width, dtype: sample.dtype).view(1, 1, 1, width).expand(1, 1, height, width);
        var ys = torch.linspace(-1, 1, height, dtype: sample.dtype).view(1, 1, height, 1).expand(1, 1, height, width);
        return torch.cat(new[] { xs, ys }, 1).expand(sample.shape[0], 2, height, width);
    }
}
