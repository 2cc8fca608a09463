namespace Imagic.Training;

/// <summary>Options of <c>imagic train</c>; the defaults are the bundled model's recipe.</summary>
public sealed record TrainingOptions
{
    /// <summary>Phase 1: VAE steps. Default 2000.</summary>
    public int VaeSteps { get; init; } = 2000;

    /// <summary>Phase 2: text-to-image steps (UNet and text encoder jointly). Default 9000: with the VAE, about 2 h 5 min on 2 cores.</summary>
    public int Steps { get; init; } = 9000;

    /// <summary>Images per step. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Weight of the VAE's KL term against its per-pixel MSE (both means). Default 1e-6: small, as in SD, so
    /// the posterior stays sharp. At 1e-4 the posterior std grew to 0.66 against a latent std of 1.8 and the
    /// decoder blurred the world's small objects (a round trip kept only 31% of colours).
    /// </summary>
    public double VaeKlWeight { get; init; } = 1e-6;

    /// <summary>
    /// Side of the square crops the VAE trains on, a multiple of its downsampling factor; images no larger than this are
    /// used whole. Default 64: whole images in both worlds. Crops are cheaper but lost outlines when measured on world v2
    /// (2000 steps, batch 32, build 7877938; round trip of 200 scenes read back by the detector): random 32×32 windows cut
    /// a step from about 2 s to 0.4 s, but shape fell to 82.5 % (stars drawn as circles 24 times) and size to 91 %, against
    /// 95 % and 99 % for the whole-image VAE of the same recipe; 200 more steps of the decoder alone on whole images, with
    /// the encoder frozen, reached only 84 %, so the latents themselves had lost the stars' points. A crop holds a
    /// quarter of the pixels and often no object, so at equal steps the VAE sees a fraction of the outlines.
    /// </summary>
    public int VaeCrop { get; init; } = 64;

    /// <summary>VAE learning rate (Adam). Default 1e-3.</summary>
    public double VaeLearningRate { get; init; } = 1e-3;

    /// <summary>Peak learning rate of phase 2 (AdamW), reached after <see cref="WarmupSteps"/>. Default 6e-4.</summary>
    public double LearningRate { get; init; } = 6e-4;

    /// <summary>Linear warm-up steps of phase 2. Default 200.</summary>
    public int WarmupSteps { get; init; } = 200;

    /// <summary>AdamW weight decay of phase 2. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Decay of the exponential moving average of the weights that is exported. Default 0.999.</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>Fraction of captions replaced by "" so classifier-free guidance works. Default 0.1.</summary>
    public double CaptionDropout { get; init; } = 0.1;

    /// <summary>
    /// Fraction of the kept captions that are the scene's canonical caption rather than a random one. Default 0.5.
    /// The canonical wording is what edit prompts and <c>eval-model</c> use; seeing it often lets a small text
    /// encoder tie each word to its attribute sooner, while the random captions still teach the synonyms.
    /// </summary>
    public double CanonicalCaptions { get; init; } = 0.5;

    /// <summary>
    /// Share of each phase-2 batch whose timestep is drawn from [<see cref="HighNoiseStart"/>, 1000) rather than
    /// uniformly: the steps where the model decides where an object goes. Default 0 (uniform). At 0.3 (from t = 850)
    /// the loss at t = 990 halved but colour was learned later (13 % against 25 % after ~2300 steps; one run each,
    /// and a later uniform run also learned colour late, so the evidence is weak); it stays an option until a
    /// longer comparison (see <see cref="TimestepSampling"/>).
    /// </summary>
    public double HighNoiseShare { get; init; }

    /// <summary>First timestep of the high-noise range. Default 850.</summary>
    public int HighNoiseStart { get; init; } = 850;

    /// <summary>
    /// If set, phase 2 weights each timestep's loss by Min-SNR-γ (<see cref="DenoisingLoss.MinSnrWeights"/>;
    /// Hang et al. report γ = 5 converging about three times faster). Default null: the plain mean, as the
    /// committed v2 was trained. Not yet tried on the shapes model.
    /// </summary>
    public double? MinSnrGamma { get; init; }

    /// <summary>
    /// Initial std of the text encoder's token and position embeddings. Default 1 (as T5), not CLIP's 0.02.
    /// Adam moves every weight by about the learning rate a step, so after a few thousand steps the features the
    /// model uses first (background, colour) dwarf 0.02-sized embeddings, and words it has not yet used lose
    /// their identity: in v1 and in a run with coordinate channels, "top left" and "bottom right" came out of
    /// the text encoder almost alike (distance 1.3 against 11 for two backgrounds) and the UNet never learned them.
    /// </summary>
    public double TextEmbeddingInitStd { get; init; } = 1.0;

    /// <summary>
    /// The world the scenes come from. Default <see cref="World.WorldVersion.V1"/> (the bundled v1–v5 models); v2 draws
    /// scenes with unnamed detail and needs the 64-px architecture (<see cref="ShapesModelConfigs.V2"/>).
    /// </summary>
    public World.WorldVersion World { get; init; } = Imagic.World.WorldVersion.V1;

    /// <summary>
    /// World v2 only: share of the kept captions that leave things out (<see cref="Imagic.World.Captioner.Partial"/>: the
    /// object alone, with its background, or with its position), taken from the random captions, never from the canonical
    /// share. Default 0.3. The TEdBench-style texts of suite shapes-v2 are of this kind; full captions stay the majority.
    /// </summary>
    public double PartialCaptions { get; init; } = 0.3;

    /// <summary>
    /// Channels of the UNet's blocks, from the latent resolution down (e.g. [128, 128, 128]); null: the world's architecture
    /// (<see cref="ShapesModelConfigs.UNet"/>, [96, 128, 128]). Each must be a positive multiple of the UNet's GroupNorm groups (32; checked by <see cref="ShapesTrainer"/>).
    /// For experiments on the model's capacity: the first block works at the latents' full 16×16, where the 4× latents of world
    /// v2 hold the objects' outlines.
    /// </summary>
    public IReadOnlyList<int>? UNetChannels { get; init; }

    /// <summary>Gradient norm clip of phase 2. Default 1.</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Seed of the data and every random draw. Default 0.</summary>
    public long Seed { get; init; }

    /// <summary>Scenes whose latents set the VAE scaling factor (1 / their std). Default 512.</summary>
    public int ScalingSamples { get; init; } = 512;

    /// <summary>Steps between checkpoints. Default 250.</summary>
    public int CheckpointEvery { get; init; } = 250;

    public void Validate()
    {
        if (VaeSteps < 0 || Steps < 0) throw new ImagicException("Step counts must be ≥ 0.");
        if (BatchSize < 1) throw new ImagicException($"--batch must be ≥ 1, got {BatchSize}.");
        if (VaeCrop < 1) throw new ImagicException($"--vae-crop must be ≥ 1, got {VaeCrop}.");
        if (CheckpointEvery < 1) throw new ImagicException($"--checkpoint-every must be ≥ 1, got {CheckpointEvery}.");
        if (!(CaptionDropout is >= 0 and <= 1)) throw new ImagicException("Caption dropout must be in [0, 1].");
        if (!(TextEmbeddingInitStd > 0 && double.IsFinite(TextEmbeddingInitStd))) throw new ImagicException("The text embedding init std must be > 0.");
        if (!(HighNoiseShare is >= 0 and <= 1)) throw new ImagicException($"--high-noise-share must be in [0, 1], got {HighNoiseShare}.");
        if (HighNoiseStart is < 0 or >= 1000) throw new ImagicException($"--high-noise-start must be a timestep in [0, 1000), got {HighNoiseStart}.");
        if (MinSnrGamma is double gamma && !(gamma > 0 && double.IsFinite(gamma)))
            throw new ImagicException($"--min-snr-gamma must be a positive finite number, got {gamma}.");
        if (!(CanonicalCaptions is >= 0 and <= 1)) throw new ImagicException("The canonical caption fraction must be in [0, 1].");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) throw new ImagicException($"--lr must be a positive finite number, got {LearningRate}.");
        if (!(VaeLearningRate > 0 && double.IsFinite(VaeLearningRate))) throw new ImagicException($"The VAE learning rate must be a positive finite number, got {VaeLearningRate}.");
        if (!(VaeKlWeight >= 0 && double.IsFinite(VaeKlWeight))) throw new ImagicException($"The VAE KL weight must be a finite number ≥ 0, got {VaeKlWeight}.");
        if (!(WeightDecay >= 0 && double.IsFinite(WeightDecay))) throw new ImagicException($"The weight decay must be a finite number ≥ 0, got {WeightDecay}.");
        if (!(EmaDecay is >= 0 and < 1)) throw new ImagicException($"The EMA decay must be in [0, 1), got {EmaDecay}.");
        if (!(GradientClip > 0 && double.IsFinite(GradientClip))) throw new ImagicException($"The gradient clip must be a positive finite number, got {GradientClip}.");
        if (WarmupSteps < 0 || ScalingSamples < 1) throw new ImagicException("Warm-up steps must be ≥ 0 and scaling samples ≥ 1.");
        if (!(PartialCaptions is >= 0 and <= 1)) throw new ImagicException($"--partial-captions must be in [0, 1], got {PartialCaptions}.");
        if (UNetChannels is { } channels && (channels.Count == 0 || channels.Any(c => c <= 0)))
            throw new ImagicException($"--unet-channels must be positive whole numbers, got {string.Join(",", channels)}.");
        if (CanonicalCaptions + PartialCaptions > 1) throw new ImagicException("The canonical and partial caption shares must add up to at most 1.");
    }
}
