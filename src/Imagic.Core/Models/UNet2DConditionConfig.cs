using System.Text.Json.Serialization;

namespace Imagic.Models;

/// <summary>
/// The subset of diffusers' <c>UNet2DConditionModel</c> config that SD 1.x and 2.x use. Property names
/// match <c>unet/config.json</c>; defaults are diffusers' defaults. Options this project does not
/// implement are read too, so that a config using them fails with a clear message instead of
/// silently building the wrong network.
/// </summary>
public sealed record UNet2DConditionConfig
{
    [JsonPropertyName("sample_size")] public int? SampleSize { get; init; }
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 4;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 4;
    [JsonPropertyName("center_input_sample")] public bool CenterInputSample { get; init; }
    [JsonPropertyName("flip_sin_to_cos")] public bool FlipSinToCos { get; init; } = true;
    [JsonPropertyName("freq_shift")] public double FreqShift { get; init; }
    [JsonPropertyName("down_block_types")] public string[] DownBlockTypes { get; init; } =
        { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" };
    [JsonPropertyName("mid_block_type")] public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    [JsonPropertyName("up_block_types")] public string[] UpBlockTypes { get; init; } =
        { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" };
    [JsonPropertyName("only_cross_attention")] public bool OnlyCrossAttention { get; init; }
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = { 320, 640, 1280, 1280 };
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 2;
    [JsonPropertyName("downsample_padding")] public int DownsamplePadding { get; init; } = 1;
    [JsonPropertyName("mid_block_scale_factor")] public double MidBlockScaleFactor { get; init; } = 1.0;
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("norm_eps")] public double NormEps { get; init; } = 1e-5;
    [JsonPropertyName("cross_attention_dim")] public int CrossAttentionDim { get; init; } = 1280;
    [JsonPropertyName("transformer_layers_per_block")] public IntOrList TransformerLayersPerBlock { get; init; } = 1;

    /// <summary>
    /// Despite its name, diffusers reads this as the number of heads when <see cref="NumAttentionHeads"/>
    /// is null (a historical naming mistake kept for checkpoint compatibility): SD 1.x has 8 heads,
    /// SD 2.x lists [5, 10, 20, 20] heads of 64 channels.
    /// </summary>
    [JsonPropertyName("attention_head_dim")] public IntOrList AttentionHeadDim { get; init; } = 8;
    [JsonPropertyName("num_attention_heads")] public IntOrList? NumAttentionHeads { get; init; }
    [JsonPropertyName("use_linear_projection")] public bool UseLinearProjection { get; init; }
    [JsonPropertyName("upcast_attention")] public bool UpcastAttention { get; init; }
    [JsonPropertyName("dual_cross_attention")] public bool DualCrossAttention { get; init; }
    [JsonPropertyName("resnet_time_scale_shift")] public string ResnetTimeScaleShift { get; init; } = "default";
    [JsonPropertyName("resnet_out_scale_factor")] public double ResnetOutScaleFactor { get; init; } = 1.0;
    [JsonPropertyName("time_embedding_type")] public string TimeEmbeddingType { get; init; } = "positional";
    [JsonPropertyName("time_embedding_dim")] public int? TimeEmbeddingDim { get; init; }
    [JsonPropertyName("time_embedding_act_fn")] public string? TimeEmbeddingActFn { get; init; }
    [JsonPropertyName("timestep_post_act")] public string? TimestepPostAct { get; init; }
    [JsonPropertyName("time_cond_proj_dim")] public int? TimeCondProjDim { get; init; }
    [JsonPropertyName("conv_in_kernel")] public int ConvInKernel { get; init; } = 3;
    [JsonPropertyName("conv_out_kernel")] public int ConvOutKernel { get; init; } = 3;
    [JsonPropertyName("class_embed_type")] public string? ClassEmbedType { get; init; }
    [JsonPropertyName("num_class_embeds")] public int? NumClassEmbeds { get; init; }

    /// <summary>
    /// null (SD 1.x/2.x) or <c>"text"</c>: the text embeddings, attention-pooled, are added to the timestep
    /// embedding (<see cref="TextTimeEmbedding"/>, Imagen's design). The SDXL kinds are not supported.
    /// </summary>
    [JsonPropertyName("addition_embed_type")] public string? AdditionEmbedType { get; init; }
    [JsonPropertyName("addition_embed_type_num_heads")] public int AdditionEmbedTypeNumHeads { get; init; } = 64;
    [JsonPropertyName("encoder_hid_dim")] public int? EncoderHidDim { get; init; }

    /// <summary>
    /// This project's one extension of the SD UNet, off (0) for every SD checkpoint and not written then:
    /// with 2, the UNet appends an x and a y coordinate channel (−1…1) to its input before <c>conv_in</c>
    /// (CoordConv, Liu et al., 2018), so <c>conv_in</c> takes <see cref="InChannels"/> + 2 channels.
    /// </summary>
    /// <remarks>
    /// A UNet of convolutions and attention without positional embeddings can tell where it is only from
    /// the zero padding at the borders. SD learns "on the left" weakly from billions of images; the bundled
    /// shapes model v1, trained for two CPU-hours, did not learn it at all (its loss did not change when the
    /// caption named the wrong grid cell), so the shapes UNet gets its coordinates as input. Coordinates alone
    /// did not fix that (the text encoder had also erased the position words, see
    /// <c>TrainingOptions.TextEmbeddingInitStd</c>); with both, a run reached 90 % position accuracy. Whether
    /// the coordinates are still needed then has not been tested. diffusers cannot load such a UNet (it does
    /// not know the key); every command of this project can.
    /// </remarks>
    [JsonPropertyName("coordinate_channels")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int CoordinateChannels { get; init; }

    public static UNet2DConditionConfig FromFile(string path)
    {
        var config = ModelConfigJson.Read<UNet2DConditionConfig>(path);
        config.Validate(path);
        return config;
    }

    /// <summary>Heads per down block, resolving diffusers' attention_head_dim naming.</summary>
    /// <remarks>Not a config key. IgnoreReadOnlyProperties does not skip a getter-only array, so it is ignored here.</remarks>
    [JsonIgnore]
    public int[] HeadsPerBlock => (NumAttentionHeads ?? AttentionHeadDim).PerBlock(DownBlockTypes.Length, "attention_head_dim");

    public int TimeEmbedDim => TimeEmbeddingDim ?? BlockOutChannels[0] * 4;

    /// <summary>How many times the UNet halves the resolution: a latent side must be a multiple of 2^this.</summary>
    public int DownsampleFactor => 1 << (DownBlockTypes.Length - 1);

    void Validate(string path)
    {
        void Unsupported(string key, object? value) =>
            throw new ImagicException($"{path}: {key} = {value} is not supported by this implementation (SD 1.x/2.x UNets are).");

        if (ClassEmbedType is not null) Unsupported("class_embed_type", ClassEmbedType);
        if (NumClassEmbeds is not null) Unsupported("num_class_embeds", NumClassEmbeds);
        if (AdditionEmbedType is not (null or "text")) Unsupported("addition_embed_type", AdditionEmbedType);
        if (AdditionEmbedType == "text" && CrossAttentionDim % AdditionEmbedTypeNumHeads != 0)
            throw new ImagicException($"{path}: cross_attention_dim {CrossAttentionDim} is not divisible by addition_embed_type_num_heads {AdditionEmbedTypeNumHeads}.");
        if (EncoderHidDim is not null) Unsupported("encoder_hid_dim", EncoderHidDim);
        if (TimeCondProjDim is not null) Unsupported("time_cond_proj_dim", TimeCondProjDim);
        if (TimestepPostAct is not null) Unsupported("timestep_post_act", TimestepPostAct);
        if (TimeEmbeddingActFn is not null) Unsupported("time_embedding_act_fn", TimeEmbeddingActFn);
        if (TimeEmbeddingType != "positional") Unsupported("time_embedding_type", TimeEmbeddingType);
        if (ResnetTimeScaleShift != "default") Unsupported("resnet_time_scale_shift", ResnetTimeScaleShift);
        if (DualCrossAttention) Unsupported("dual_cross_attention", true);
        if (OnlyCrossAttention) Unsupported("only_cross_attention", true);
        if (MidBlockType is not (null or "UNetMidBlock2DCrossAttn")) Unsupported("mid_block_type", MidBlockType);
        foreach (var t in DownBlockTypes)
            if (t is not ("CrossAttnDownBlock2D" or "DownBlock2D")) Unsupported("down_block_types", t);
        foreach (var t in UpBlockTypes)
            if (t is not ("CrossAttnUpBlock2D" or "UpBlock2D")) Unsupported("up_block_types", t);
        if (CoordinateChannels is not (0 or 2))
            throw new ImagicException($"{path}: coordinate_channels must be 0 or 2, got {CoordinateChannels}.");
        if (DownBlockTypes.Length != BlockOutChannels.Length || UpBlockTypes.Length != BlockOutChannels.Length)
            throw new ImagicException($"{path}: down_block_types, up_block_types and block_out_channels must have the same length.");
        Layers.CheckActivation(ActFn, path);
        var heads = HeadsPerBlock;
        for (int i = 0; i < heads.Length; i++)
            if (BlockOutChannels[i] % heads[i] != 0)
                throw new ImagicException($"{path}: block {i} has {BlockOutChannels[i]} channels, not divisible by {heads[i]} attention heads.");
    }
}
