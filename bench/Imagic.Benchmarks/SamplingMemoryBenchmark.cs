using System.Text.Json;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>What <c>--measure sampling-memory</c> reports: a generate's measured peaks next to <see cref="SamplingMemory"/>'s estimate.</summary>
/// <param name="LoadedResidentMegabytes">Resident set once the pipeline is loaded: the weights plus the runtime.</param>
/// <param name="Parts">Text encoding, sampling and VAE decode, each with its own peak resident memory.</param>
/// <param name="EstimateWeightsMegabytes">The estimate's terms, in MB: the weights, the UNet's and the decoder's counted feature
/// maps (before the overhead factor), and the whole estimate.</param>
public sealed record SamplingMemoryReport(string Model, int Height, int Width, int Steps, int Threads, double WeightMegabytes,
    double LoadedResidentMegabytes, IReadOnlyList<Sd15Part> Parts, double EstimateWeightsMegabytes, double EstimateUNetMegabytes,
    double EstimateDecoderMegabytes, double EstimateMegabytes, bool PeakResetPerPart, string Machine)
{
    /// <summary>The highest peak of the generate above <see cref="LoadedResidentMegabytes"/>.</summary>
    public double PeakAboveLoadedMegabytes => Parts.Max(p => p.PeakResidentMegabytes) - LoadedResidentMegabytes;

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// The peak resident memory of an <c>imagic generate</c> (guided, as the CLI samples) split into text encoding, sampling and
/// VAE decode, against <see cref="SamplingMemory"/>'s estimate for the same size: the measurement that estimate's
/// constants are fitted to.
/// </summary>
public static class SamplingMemoryBenchmark
{
    /// <param name="model">A diffusers folder (loaded as <c>imagic generate --model</c> loads it), or the folder holding
    /// <c>sd15-unet</c>, <c>sd15-vae</c> and <c>sd15-text-encoder</c> (<c>bench/configs</c>): then a full-size SD 1.5 with random
    /// weights and <paramref name="tokenizerDir"/>'s tokenizer.</param>
    public static SamplingMemoryReport Run(string model, string tokenizerDir, int height, int width, int steps, Action<string> log)
    {
        bool resets = ProcessMemory.ResetPeak();
        using var pipe = Directory.Exists(Path.Combine(model, "sd15-unet")) ? Sd15Benchmark.Build(model, tokenizerDir)
            : StableDiffusionPipeline.Load(model);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        NativeHeap.Trim();
        double loaded = ProcessMemory.ResidentMegabytes();
        double weights = new nn.Module[] { pipe.TextEncoder, pipe.UNet }.Concat(pipe.Vae is null ? [] : [pipe.Vae])
            .SelectMany(m => m.parameters()).Sum(p => p.numel() * p.element_size()) / 1048576.0;
        log($"{model}: weights {weights:F0} MB; resident once loaded {loaded:F0} MB");

        ProcessMemory.ResetPeak();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var options = new SamplingOptions { Steps = steps };
        IReadOnlyList<Sd15Part> parts;
        using (var stepTimes = new Sd15Benchmark.StepClock(clock, pipe.UNet, pipe.Vae))
        {
            pipe.Generate("a photo of a dog standing on a beach", "", options, seed: 0, height, width, progress: stepTimes).Dispose();
            parts = stepTimes.Parts("text encoding", "sampling", "VAE decode");
        }
        foreach (var p in parts)
            log($"{p.Name}: peak {p.PeakResidentMegabytes:F0} MB, {p.PeakResidentMegabytes - loaded:F0} MB above the loaded model");

        var (w, unet, decoder) = SamplingMemory.EstimateParts(pipe, height, width, guided: options.GuidanceScale != 1);
        const double MB = 1048576.0;
        return new SamplingMemoryReport(model, height, width, steps, torch.get_num_threads(), weights, loaded, parts, w / MB, unet / MB,
            decoder / MB, SamplingMemory.EstimateBytes(pipe, height, width, guided: options.GuidanceScale != 1) / MB, resets,
            $"{Environment.ProcessorCount} cores, {ProcessMemory.TotalGigabytes():F0} GB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
    }
}
