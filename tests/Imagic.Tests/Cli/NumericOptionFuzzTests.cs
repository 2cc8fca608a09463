using System.CommandLine;
using Imagic.Cli;

namespace Imagic.Tests.Cli;

/// <summary>
/// Every numeric option of every command, given hostile values, gets a one-line error or passes on to a clear one:
/// never an unexpected error, a stack trace or a leftover file. Each command is pointed at a missing input, so a
/// value that passes validation stops there, before any model loads.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class NumericOptionFuzzTests
{
    static readonly string[] HostileValues =
        { "NaN", "nan", "Infinity", "-Infinity", "∞", "-1", "0", "1e300", "-1e300", "99999999999999999999", "abc", "", "1,5", "0x10", "1.5.2" };

    static readonly Type[] NumericTypes = { typeof(int), typeof(int?), typeof(long), typeof(long?), typeof(double), typeof(double?) };

    /// <summary>Arguments that run each command up to a missing input, in <paramref name="dir"/>.</summary>
    static string[] BaseArgs(string command, string dir)
    {
        string missing = Path.Combine(dir, "missing");
        return command switch
        {
            "generate" => new[] { "generate", "--model", missing, "--prompt", "a dog", "--out", Path.Combine(dir, "x.png") },
            "edit" => new[] { "edit", "--image", Path.Combine(missing, "in.png"), "--prompt", "a dog", "--model", missing, "--out", Path.Combine(dir, "run") },
            "sample" => new[] { "sample", missing },
            "train" => new[] { "train", "--tokenizer", missing, "--work", Path.Combine(dir, "work"), "--out", Path.Combine(dir, "model") },
            "eval-model" => new[] { "eval-model", "--model", missing, "--out", Path.Combine(dir, "eval") },
            "bench" => new[] { "bench", "--model", missing, "--out", Path.Combine(dir, "bench") },
            "convert" => new[] { "convert", Path.Combine(missing, "model.safetensors"), "--out", Path.Combine(dir, "converted") },
            "serve" => new[] { "serve", "--model", missing, "--runs", Path.Combine(dir, "runs") },
            _ => throw new ArgumentException($"No fuzz arguments for '{command}'; add them here.", nameof(command)),
        };
    }

    public static TheoryData<string, string> NumericOptions()
    {
        var data = new TheoryData<string, string>();
        foreach (var command in CliApp.BuildRoot().Subcommands)
            foreach (var option in command.Options.Where(o => NumericTypes.Contains(o.ValueType) || o.Name == "--eta"))
                data.Add(command.Name, option.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(NumericOptions))]
    public void HostileNumber_GivesOneClearErrorAndLeavesNothing(string command, string option)
    {
        var dir = TestPaths.NewTempDir();
        foreach (var value in HostileValues)
        {
            var (code, _, stderr) = CliHarness.Run(BaseArgs(command, dir).Concat(new[] { option, value }).ToArray());

            string what = $"imagic {command} {option} '{value}': exit {code}, {stderr}";
            Assert.True(code == 1, what);
            Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: "));
            Assert.DoesNotContain("Unexpected error", stderr);
            Assert.DoesNotContain("   at ", stderr);
            Assert.DoesNotContain("System.", stderr);
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        }
    }

    [Fact]
    public void EveryCommand_IsFuzzed()
    {
        var commands = CliApp.BuildRoot().Subcommands.Select(c => c.Name).ToList();
        foreach (var command in commands)
            Assert.NotEmpty(BaseArgs(command, "/tmp")); // throws for a command without fuzz arguments
        Assert.Contains(NumericOptions(), row => (string)row[1] == "--guidance");
    }
}
