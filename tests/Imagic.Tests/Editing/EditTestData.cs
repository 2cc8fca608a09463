using Imagic.Editing;
using Imagic.Imaging;

namespace Imagic.Tests.Editing;

/// <summary>Inputs for edit tests on tiny-sd1: a small synthetic photo and few-step options.</summary>
internal static class EditTestData
{
    /// <summary>Few steps, and learning rates large enough to move a random tiny model in that few.</summary>
    public static ImagicOptions FastOptions => new()
    {
        EmbeddingSteps = 12,
        EmbeddingLearningRate = 1e-2,
        FinetuneSteps = 12,
        FinetuneLearningRate = 1e-3,
        SamplingSteps = 4,
        GuidanceScale = 3,
        EtaSweep = new[] { 0.0, 1.0 },
        CheckpointEvery = 5,
        Seed = 7,
    };

    /// <summary>Writes a 64×64 PNG with a coloured disc on a gradient, and returns its path.</summary>
    public static string WriteInputImage(string dir, string name = "input.png", int size = 64)
    {
        var image = new RgbImage(size, size, new byte[size * size * 3]);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                bool disc = (x - size / 2) * (x - size / 2) + (y - size / 2) * (y - size / 2) < size * size / 9;
                image.SetPixel(x, y, disc ? new Rgb(220, 40, 40) : new Rgb((byte)(x * 4), (byte)(y * 4), 128));
            }
        var path = Path.Combine(dir, name);
        ImageIO.SavePng(image, path);
        return path;
    }
}
