using Imagic.Models;
using Imagic.Schedulers;

namespace Imagic.Training;

/// <summary>
/// The architecture of the bundled shapes model: the same classes as Stable Diffusion with small
/// widths, in the latent space of a small VAE (32×32×3 pixels → 16×16×4 latents), as SD does at 512 px.
/// </summary>
/// <remarks>
/// Chosen by measurement on 2 cores (batch 32, forward + backward + Adam; see the model card):
/// a UNet of [64, 128, 128] channels with cross-attention at 8×8 and 4×4 only took 0.49 s a step,
/// against 0.95 s with attention at 16×16 too and 0.81 s for a 1.7 M-parameter pixel-space UNet at
/// 32×32. With the pooled caption and coordinate channels added, [64, 128, 128] takes 0.61 s, [96, 128, 128]
/// 0.76 s and a second resnet per block 0.93 s. The world's objects are 5–10 px wide, so a 2× VAE keeps
/// their outline while a 4× one would leave small stars about two latent cells.
/// </remarks>
public static class ShapesModelConfigs
{
    /// <summary>The bundled model's architecture.</summary>
    public static ShapesArchitecture Default => new(Vae(), TextEncoder(), UNet(), Scheduler());

    /// <summary>
    /// The architecture for world v2 (model v6): 64×64×3 pixels → 16×16×4 latents through a VAE with one more
    /// down block (4×), so that the UNet, the text encoder and the scheduler, and with them the cost of a
    /// phase-2 step apart from the VAE encode, stay as in <see cref="Default"/>.
    /// </summary>
    /// <remarks>
    /// Not yet trained. Whether 4× compression keeps the outlines of the smallest objects (a small star is
    /// 11 px wide at 64 px, under 3 latent cells) is the first thing to measure; see the model card.
    /// </remarks>
    public static ShapesArchitecture V2 => new(VaeV2(), TextEncoder(), UNet(), Scheduler());

    /// <summary>The architecture for a world: <see cref="Default"/> for v1, <see cref="V2"/> for v2.</summary>
    public static ShapesArchitecture For(World.WorldVersion world) => world == World.WorldVersion.V1 ? Default : V2;

    /// <summary>Image side of the v1 model: 32 px.</summary>
    public const int ImageSize = 32;

    /// <summary>Image side of the v2 model: 64 px.</summary>
    public const int ImageSizeV2 = 64;

    /// <summary>The v2 VAE: three encoder blocks (two downsamplings), 64 px → 16×16×4.</summary>
    public static AutoencoderKLConfig VaeV2() => Vae() with
    {
        DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D" },
        UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D" },
        BlockOutChannels = new[] { 32, 64, 64 },
        SampleSize = ImageSizeV2,
    };

    public static AutoencoderKLConfig Vae() => new()
    {
        InChannels = 3,
        OutChannels = 3,
        DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D" },
        UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D" },
        BlockOutChannels = new[] { 32, 64 },
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 16,
        SampleSize = ImageSize,
        ScalingFactor = 1.0, // measured after VAE training: 1 / std of the latents
    };

    public static ClipTextConfig TextEncoder() => new()
    {
        VocabSize = 49408,
        HiddenSize = 64,
        IntermediateSize = 256,
        NumHiddenLayers = 3,
        NumAttentionHeads = 4,
        MaxPositionEmbeddings = 77,
        HiddenAct = "quick_gelu",
    };

    public static UNet2DConditionConfig UNet() => new()
    {
        SampleSize = ImageSize / 2,
        InChannels = 4,
        OutChannels = 4,
        // 96 channels at 16×16 (v4: 64): the misses of v4 were outlines drawn too round (star or square as a
        // circle), and this level is where outlines are drawn. Shape accuracy rose from 79 % to 86 % (model card).
        BlockOutChannels = new[] { 96, 128, 128 },
        DownBlockTypes = new[] { "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" },
        UpBlockTypes = new[] { "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D" },
        LayersPerBlock = 1,
        CrossAttentionDim = 64,
        AttentionHeadDim = 4,
        NormNumGroups = 32,
        // v1 ignored position words entirely; see UNet2DConditionConfig.CoordinateChannels.
        CoordinateChannels = 2,
        // The pooled caption reaches every resnet through the time embedding, as in Imagen: the v2 run
        // used colour only through cross-attention at 8×8 and 4×4 and had not learned it after 4250 steps.
        AdditionEmbedType = "text",
        AdditionEmbedTypeNumHeads = 4,
    };

    /// <summary>
    /// The cosine schedule with v-prediction, sampled with trailing timesteps (DDIM starts at t = 999).
    /// </summary>
    /// <remarks>
    /// v0 used DDPM's linear β schedule with ε-prediction and did not learn its captions. On 16×16 latents
    /// the linear schedule leaves SNR below 0.01 from t ≈ 650 on, and ε-prediction weighs the error in the
    /// predicted image by the SNR, so the steps where colour, position and background are decided taught
    /// almost nothing: at t = 900, v0's loss was 0.0012 with the right, a shuffled or no caption alike.
    /// v-prediction weighs that error by SNR + 1 instead, and the cosine schedule spends fewer steps on
    /// near-pure noise (Nichol &amp; Dhariwal, 2021; Salimans &amp; Ho, 2022).
    /// </remarks>
    public static SchedulerConfig Scheduler() => new()
    {
        NumTrainTimesteps = 1000,
        BetaSchedule = BetaSchedule.SquaredcosCapV2,
        PredictionType = PredictionType.VPrediction,
        ClipSample = false,
        SetAlphaToOne = false,
        StepsOffset = 0,
        TimestepSpacing = TimestepSpacing.Trailing,
    };
}

/// <summary>The component configs <see cref="ShapesTrainer"/> builds; tests pass smaller ones.</summary>
public sealed record ShapesArchitecture(AutoencoderKLConfig Vae, ClipTextConfig TextEncoder, UNet2DConditionConfig UNet,
    SchedulerConfig Scheduler);
