using System.Diagnostics;
using System.Text.Json;
using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>What one stage B memory measurement found.</summary>
/// <param name="Option">The stage B configuration: full, checkpointing, lora or lora+checkpointing.</param>
/// <param name="ParameterMegabytes">The UNet's weights alone.</param>
/// <param name="ModelResidentMegabytes">Resident set once the UNet is built, before training.</param>
/// <param name="PeakResidentMegabytes">Peak resident set (VmHWM) of the whole process over all steps.</param>
/// <param name="StepSeconds">Wall time of each stage B step (the first includes allocating gradients and optimizer state).</param>
public sealed record StageBMemoryReport(string Model, string Option, int LatentSize, int Threads, long UNetParameters,
    long TrainedParameters, double ParameterMegabytes, double ModelResidentMegabytes, double PeakResidentMegabytes,
    IReadOnlyList<double> StepSeconds, string Machine)
{
    /// <summary>Median step time after the first step (which also allocates gradients and optimizer state); the only time with one step.</summary>
    public double SteadyStepSeconds
    {
        get
        {
            var later = (StepSeconds.Count > 1 ? StepSeconds.Skip(1) : StepSeconds).Order().ToList();
            int n = later.Count;
            return n % 2 == 1 ? later[n / 2] : (later[n / 2 - 1] + later[n / 2]) / 2;
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Peak memory of Imagic's stage B for one configuration, measured the way the editor runs it
/// (<see cref="UNetFineTuning"/>, <see cref="DenoisingLoss"/>, <see cref="Adam"/>), with a UNet built from
/// <c>unet/config.json</c> with random weights. Peak resident memory is per process, so run one process
/// per configuration.
/// </summary>
/// <remarks>
/// Only the UNet is built: in a real edit the VAE and text encoder (about 0.8 GB at SD 1.5 size) and the
/// process's usual overhead come on top.
/// </remarks>
public static class StageBMemoryBenchmark
{
    /// <summary>The configurations <see cref="Run"/> accepts, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<string> Options = new[] { "full", "checkpointing", "lora", "lora+checkpointing" };

    /// <param name="modelDir">A folder with <c>unet/config.json</c> and optionally <c>scheduler/scheduler_config.json</c>.</param>
    /// <param name="option">One of <see cref="Options"/>.</param>
    /// <param name="latentSize">Latent side: 64 for SD 1.5 at 512×512.</param>
    /// <param name="steps">Stage B steps to take; the second one runs with gradients and optimizer state already allocated.</param>
    /// <param name="loraRank">LoRA rank (α = rank). Default 4, as Imagic's.</param>
    public static StageBMemoryReport Run(string modelDir, string option, int latentSize, int steps = 2, int loraRank = 4,
        Action<string>? log = null)
    {
        log ??= _ => { };
        var settings = option switch
        {
            "full" => new FineTuneSettings(FinetuneMethod.Full, loraRank, loraRank, false),
            "checkpointing" => new FineTuneSettings(FinetuneMethod.Full, loraRank, loraRank, true),
            "lora" => new FineTuneSettings(FinetuneMethod.Lora, loraRank, loraRank, false),
            "lora+checkpointing" => new FineTuneSettings(FinetuneMethod.Lora, loraRank, loraRank, true),
            _ => throw new ImagicException($"Unknown stage B option '{option}'; use one of: {string.Join(", ", Options)}."),
        };
        if (steps < 1) throw new ImagicException($"--steps must be at least 1, got {steps}.");
        var unetConfig = UNet2DConditionConfig.FromFile(Path.Combine(modelDir, "unet", "config.json"));
        var schedulerPath = Path.Combine(modelDir, "scheduler", "scheduler_config.json");
        var ddpm = new DdpmScheduler(File.Exists(schedulerPath) ? SchedulerConfig.FromFile(schedulerPath) : new SchedulerConfig());

        torch.manual_seed(0);
        using var unet = new UNet2DConditionModel(unetConfig);
        long unetParameters = unet.parameters().Sum(p => p.numel());
        double parameterMegabytes = unet.parameters().Sum(p => p.numel() * p.element_size()) / 1048576.0;
        double modelResident = ProcessMemory.ResidentMegabytes();
        log($"{modelDir}: UNet with {unetParameters / 1e6:F1} M parameters ({parameterMegabytes:F0} MB); resident {modelResident:F0} MB");

        using var g = new Generator(0, unet.parameters().First().device);
        var device = unet.parameters().First().device;
        var z0 = torch.randn(new long[] { 1, unetConfig.InChannels, latentSize, latentSize }, device: device, generator: g).DetachFromDisposeScope();
        var eOpt = torch.randn(new long[] { 1, 77, unetConfig.CrossAttentionDim }, device: device, generator: g).DetachFromDisposeScope();
        double lr = settings.Method == FinetuneMethod.Lora ? 1e-4 : 5e-7;
        using var tuning = UNetFineTuning.Begin(unet, settings, lr, g);
        long trained = tuning.Trainable.Sum(p => p.Param.numel());
        log($"stage B '{option}': training {trained / 1e6:F3} M parameters, latents {latentSize}×{latentSize}");

        var times = new List<double>();
        for (int step = 1; step <= steps; step++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = torch.NewDisposeScope())
            {
                tuning.Optimizer.ZeroGrad();
                DenoisingLoss.Compute(unet, ddpm, z0, eOpt, g).backward();
                tuning.Optimizer.Step();
            }
            times.Add(clock.Elapsed.TotalSeconds);
            log($"step {step}: {times[^1]:F2} s; resident {ProcessMemory.ResidentMegabytes():F0} MB, peak {ProcessMemory.PeakResidentMegabytes():F0} MB");
        }
        return new StageBMemoryReport(modelDir, option, latentSize, torch.get_num_threads(), unetParameters, trained,
            parameterMegabytes, modelResident, ProcessMemory.PeakResidentMegabytes(), times,
            $"{Environment.ProcessorCount} cores, {ProcessMemory.TotalGigabytes():F0} GB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
    }
}
